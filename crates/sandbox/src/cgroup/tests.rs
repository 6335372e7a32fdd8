//! The v1 and v2 code paths against fake cgroup filesystems (directories of control files).

use std::fs;
use std::path::Path;

use super::*;

const V2_MOUNTINFO: &str = "\
25 1 0:23 / / rw,relatime - ext4 /dev/sda1 rw
30 25 0:26 / {ROOT} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

const HYBRID_CGROUP: &str = "\
12:pids:/system.slice/api.service
5:cpu,cpuacct:/system.slice/api.service
4:memory:/system.slice/api.service
1:name=systemd:/system.slice/api.service
0::/system.slice/api.service
";

#[test]
fn detects_a_pure_v2_host_and_the_daemons_own_cgroup() {
    let mountinfo = V2_MOUNTINFO.replace("{ROOT}", "/sys/fs/cgroup");
    let layout = Layout::parse(&mountinfo, "0::/system.slice/sandbox-executor.service\n");
    assert_eq!(layout.kind(), Kind::Unified);
    let tree = layout.unified.unwrap();
    assert_eq!(tree.mount, Path::new("/sys/fs/cgroup"));
    assert_eq!(tree.own, "/system.slice/sandbox-executor.service");
    assert!(layout.v1.is_empty());
}

#[test]
fn detects_a_hybrid_host_with_comounted_v1_controllers() {
    let layout = Layout::parse(HYBRID_MOUNTINFO, HYBRID_CGROUP);
    assert_eq!(layout.kind(), Kind::Hybrid);
    assert_eq!(layout.unified.as_ref().unwrap().mount, Path::new("/sys/fs/cgroup/unified"));
    let names: Vec<&str> = layout.v1.keys().map(String::as_str).collect();
    assert_eq!(names, ["cpu", "cpuacct", "memory", "pids"], "name=systemd is not a controller");
    assert_eq!(layout.v1["cpu"].mount, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
    assert_eq!(layout.v1["cpuacct"].own, "/system.slice/api.service");
    assert_eq!(layout.v1["memory"].own, "/system.slice/api.service");
}

#[test]
fn detects_a_v1_only_host_and_a_container_view_of_its_cgroups() {
    // A container sees only its own subtree mounted: the mount's root is its cgroup.
    let mountinfo = "50 40 0:40 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n";
    let layout = Layout::parse(mountinfo, "4:memory:/docker/abc/worker\n");
    assert_eq!(layout.kind(), Kind::Legacy);
    assert_eq!(layout.v1["memory"].own, "/worker");
    assert_eq!(Layout::parse("", "").kind(), Kind::None);
}

/// A v2 tree in `dir` offering `controllers` at its root.
fn fake_v2(dir: &Path, controllers: &str) -> Layout {
    fs::write(dir.join("cgroup.controllers"), controllers).unwrap();
    fs::write(dir.join("cgroup.subtree_control"), "").unwrap();
    let mountinfo = V2_MOUNTINFO.replace("{ROOT}", dir.to_str().unwrap());
    Layout::parse(&mountinfo, "0::/\n")
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

/// Above any pid_max: nothing a fake cgroup lists may be a real process (a run's cgroup
/// SIGKILLs what it lists when it goes).
const NO_SUCH_PID: u32 = 999_999_999;

const LIMITS: RunLimits = RunLimits { memory_bytes: Some(128 << 20), processes: Some(64) };

#[test]
fn v2_enables_controllers_and_writes_each_runs_limits() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v2(root.path(), "cpuset cpu io memory hugetlb pids rdma misc");
    // Swap accounting is on: the parent has memory.swap.max.
    fs::create_dir(root.path().join("sandbox-executor")).unwrap();
    fs::write(root.path().join("sandbox-executor/memory.swap.max"), "max").unwrap();
    let config = CgroupConfig { parent: None, cpu_quota: 1.5 };
    let manager = Manager::with_layout(&config, &layout, true);
    assert!(manager.states().iter().all(|s| s.active), "{:?}", manager.states());
    let parent = root.path().join("sandbox-executor");
    for dir in [root.path(), parent.as_path()] {
        let enabled = read(dir, "cgroup.subtree_control");
        for c in ["memory", "pids", "cpu"] {
            assert!(enabled.contains(&format!("+{c}")), "{} enables {enabled:?}", dir.display());
        }
    }
    let run = manager.create(&LIMITS).unwrap().unwrap();
    let RunCgroup::V2(v2) = &run else { panic!("expected a v2 cgroup") };
    assert_eq!(v2.dir.parent().unwrap(), parent);
    assert_eq!(read(&v2.dir, "memory.max"), (128u64 << 20).to_string());
    assert_eq!(read(&v2.dir, "memory.swap.max"), "0");
    assert_eq!(read(&v2.dir, "pids.max"), "64");
    assert_eq!(read(&v2.dir, "cpu.max"), "150000 100000");
    run.join(NO_SUCH_PID).unwrap();
    assert_eq!(read(&v2.dir, "cgroup.procs"), NO_SUCH_PID.to_string());
    // A run dropped without finishing (an early error) still goes away.
    fs::write(v2.dir.join("cgroup.procs"), "").unwrap();
    let dir = v2.dir.clone();
    drop(run);
    assert!(!dir.exists(), "a dropped run's cgroup is removed");
}

#[test]
fn v2_reads_peak_cpu_oom_kills_and_process_limit_hits() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v2(root.path(), "cpu memory pids");
    let manager = Manager::with_layout(&CgroupConfig::default(), &layout, true);
    let run = manager.create(&LIMITS).unwrap().unwrap();
    let RunCgroup::V2(v2) = &run else { panic!("expected a v2 cgroup") };
    fs::write(v2.dir.join("memory.peak"), "104857600\n").unwrap();
    fs::write(v2.dir.join("cpu.stat"), "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n").unwrap();
    let events = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";
    fs::write(v2.dir.join("memory.events"), events).unwrap();
    fs::write(v2.dir.join("pids.events"), "max 3\n").unwrap();
    fs::write(v2.dir.join("cgroup.procs"), "").unwrap();
    let dir = v2.dir.clone();
    let usage = run.finish();
    assert_eq!(
        usage,
        Usage {
            peak_memory_bytes: Some(100 << 20),
            cpu_usec: Some(2500),
            oom_kills: 1,
            memory_limit_hits: 12,
            pids_limit_hits: 3
        }
    );
    assert!(!dir.exists(), "the run's cgroup is removed");
}

#[test]
fn v2_without_offered_controllers_says_why() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v2(root.path(), "cpu io");
    let manager = Manager::with_layout(&CgroupConfig::default(), &layout, true);
    let memory = manager.states().iter().find(|s| s.name == "memory").unwrap();
    assert!(!memory.active);
    assert!(memory.detail.contains("does not offer the memory controller"), "{}", memory.detail);
    assert!(manager.active("cpu"));
    // A run still gets a cgroup for what is there, and no memory limit file.
    let run = manager.create(&LIMITS).unwrap().unwrap();
    let RunCgroup::V2(v2) = &run else { panic!("expected a v2 cgroup") };
    assert!(!v2.dir.join("memory.max").exists());
    assert_eq!(read(&v2.dir, "cpu.max"), "100000 100000");
}

#[test]
fn v2_parent_is_a_child_of_the_daemons_own_delegated_cgroup() {
    let root = tempfile::tempdir().unwrap();
    fake_v2(root.path(), "cpu memory pids");
    let own = root.path().join("system.slice/api.service");
    fs::create_dir_all(&own).unwrap();
    let mountinfo = V2_MOUNTINFO.replace("{ROOT}", root.path().to_str().unwrap());
    let layout = Layout::parse(&mountinfo, "0::/system.slice/api.service\n");
    let manager = Manager::with_layout(&CgroupConfig::default(), &layout, false);
    let run = manager.create(&LIMITS).unwrap().unwrap();
    let RunCgroup::V2(v2) = &run else { panic!("expected a v2 cgroup") };
    assert_eq!(v2.dir.parent().unwrap(), own.join("sandbox-executor"));
    assert!(read(&own, "cgroup.subtree_control").contains("+memory"));
}

/// v1 hierarchies for memory, pids and a co-mounted cpu,cpuacct in `dir`.
fn fake_v1(dir: &Path) -> Layout {
    let mut mountinfo = String::new();
    for (i, (path, options)) in
        [("memory", "memory"), ("pids", "pids"), ("cpu,cpuacct", "cpu,cpuacct")].iter().enumerate()
    {
        let mount = dir.join(path);
        fs::create_dir_all(&mount).unwrap();
        mountinfo.push_str(&format!("{} 31 0:{i} / {} rw - cgroup cgroup rw,{options}\n", 40 + i, mount.display()));
    }
    // Swap accounting is on.
    fs::create_dir_all(dir.join("memory/sandbox-executor")).unwrap();
    fs::write(dir.join("memory/sandbox-executor/memory.memsw.limit_in_bytes"), "9223372036854771712").unwrap();
    Layout::parse(&mountinfo, "3:memory:/\n2:pids:/\n1:cpu,cpuacct:/\n0::/\n")
}

#[test]
fn v1_writes_limits_in_each_hierarchy_and_reads_usage() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v1(root.path());
    assert_eq!(layout.kind(), Kind::Legacy);
    let manager = Manager::with_layout(&CgroupConfig { parent: None, cpu_quota: 0.5 }, &layout, true);
    assert!(manager.states().iter().all(|s| s.active), "{:?}", manager.states());
    let run = manager.create(&LIMITS).unwrap().unwrap();
    let RunCgroup::V1(v1) = &run else { panic!("expected v1 cgroups") };
    let dirs = v1.dirs();
    assert_eq!(dirs.len(), 3, "memory, pids and the shared cpu,cpuacct: {dirs:?}");
    let memory = dirs.iter().find(|d| d.starts_with(root.path().join("memory"))).unwrap().clone();
    let pids = dirs.iter().find(|d| d.starts_with(root.path().join("pids"))).unwrap().clone();
    let cpu = dirs.iter().find(|d| d.starts_with(root.path().join("cpu,cpuacct"))).unwrap().clone();
    assert_eq!(memory.parent().unwrap(), root.path().join("memory/sandbox-executor"));
    assert_eq!(read(&memory, "memory.limit_in_bytes"), (128u64 << 20).to_string());
    assert_eq!(read(&memory, "memory.memsw.limit_in_bytes"), (128u64 << 20).to_string());
    assert_eq!(read(&memory, "memory.swappiness"), "0");
    assert_eq!(read(&pids, "pids.max"), "64");
    assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
    assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
    run.join(NO_SUCH_PID).unwrap();
    for dir in &dirs {
        assert_eq!(read(dir, "cgroup.procs"), NO_SUCH_PID.to_string());
    }
    fs::write(memory.join("memory.max_usage_in_bytes"), "52428800\n").unwrap();
    fs::write(memory.join("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
    fs::write(memory.join("memory.failcnt"), "5\n").unwrap();
    fs::write(pids.join("pids.events"), "max 0\n").unwrap();
    fs::write(cpu.join("cpuacct.usage"), "7000000\n").unwrap();
    for dir in &dirs {
        fs::write(dir.join("cgroup.procs"), "").unwrap();
    }
    let usage = run.finish();
    assert_eq!(
        usage,
        Usage {
            peak_memory_bytes: Some(50 << 20),
            cpu_usec: Some(7000),
            oom_kills: 2,
            memory_limit_hits: 5,
            pids_limit_hits: 0
        }
    );
    assert!(dirs.iter().all(|d| !d.exists()), "every hierarchy's directory is removed");
}

#[test]
fn v1_missing_controllers_are_reported_and_not_limited() {
    let root = tempfile::tempdir().unwrap();
    let mount = root.path().join("memory");
    fs::create_dir_all(&mount).unwrap();
    let mountinfo = format!("40 31 0:1 / {} rw - cgroup cgroup rw,memory\n", mount.display());
    let layout = Layout::parse(&mountinfo, "1:memory:/\n");
    let manager = Manager::with_layout(&CgroupConfig::default(), &layout, true);
    assert!(manager.active("memory"));
    for name in ["pids", "cpu"] {
        let state = manager.states().iter().find(|s| s.name == name).unwrap();
        assert!(!state.active && state.detail.contains("no hierarchy"), "{state:?}");
    }
    let run = manager.create(&LIMITS).unwrap().unwrap();
    let RunCgroup::V1(v1) = &run else { panic!("expected v1 cgroups") };
    assert_eq!(v1.dirs().len(), 1);
    // Without swap accounting only swappiness keeps the run out of swap.
    assert!(!v1.dirs()[0].join("memory.memsw.limit_in_bytes").exists());
}

#[test]
fn leftovers_of_a_gone_daemon_are_removed_and_live_daemons_runs_kept() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v1(root.path());
    let parent = root.path().join("pids/sandbox-executor");
    fs::create_dir_all(&parent).unwrap();
    // No process has pid 0; this test's own process is alive with its real start time.
    let gone = parent.join("d0.12345-7");
    let live = parent.join(format!("{}-3", own_tag()));
    let other = parent.join("daemon");
    for dir in [&gone, &live, &other] {
        fs::create_dir(dir).unwrap();
        fs::write(dir.join("cgroup.procs"), "").unwrap();
    }
    let _manager = Manager::with_layout(&CgroupConfig::default(), &layout, true);
    assert!(!gone.exists(), "a dead daemon's run cgroup is removed");
    assert!(live.exists(), "a running daemon's run cgroup is kept");
    assert!(other.exists(), "cgroups not named by a daemon are kept");
}

#[test]
fn no_cgroup_filesystem_means_no_limits_and_a_reason() {
    let manager = Manager::with_layout(&CgroupConfig::default(), &Layout::default(), true);
    assert!(manager.states().iter().all(|s| !s.active && s.detail.contains("no cgroup filesystem")));
    assert!(manager.create(&LIMITS).unwrap().is_none());
}

#[test]
fn a_run_cgroup_that_cannot_be_made_is_an_error_not_a_run_without_limits() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v1(root.path());
    let manager = Manager::with_layout(&CgroupConfig { parent: None, cpu_quota: 0.0 }, &layout, true);
    let cpu = manager.states().iter().find(|s| s.name == "cpu").unwrap();
    assert!(!cpu.active && cpu.detail.contains("no CPU quota"), "{cpu:?}");
    fs::remove_dir_all(root.path().join("pids/sandbox-executor")).unwrap();
    let err = manager.create(&LIMITS).err().expect("the pids parent is gone");
    assert!(err.to_string().contains("pids"), "{err}");
    // What was made in the other hierarchies before the failure is gone again.
    let memory = fs::read_dir(root.path().join("memory/sandbox-executor")).unwrap();
    assert_eq!(memory.flatten().filter(|e| e.path().is_dir()).count(), 0);
}

#[test]
fn v2_controllers_not_handed_down_to_a_delegated_subtree_are_missing_with_the_reason() {
    let root = tempfile::tempdir().unwrap();
    fake_v2(root.path(), "cpu memory pids");
    fs::write(root.path().join("cgroup.subtree_control"), "cpu memory pids").unwrap();
    // system.slice hands only cpu and pids down, and refuses to change that.
    let slice = root.path().join("system.slice");
    fs::create_dir_all(slice.join("cgroup.subtree_control")).unwrap();
    fs::write(slice.join("cgroup.controllers"), "cpu memory pids").unwrap();
    for dir in ["system.slice/api.service", "system.slice/api.service/sandbox-executor"] {
        fs::create_dir_all(root.path().join(dir)).unwrap();
        fs::write(root.path().join(dir).join("cgroup.controllers"), "cpu pids").unwrap();
    }
    let mountinfo = V2_MOUNTINFO.replace("{ROOT}", root.path().to_str().unwrap());
    let layout = Layout::parse(&mountinfo, "0::/system.slice/api.service\n");
    let manager = Manager::with_layout(&CgroupConfig::default(), &layout, false);
    assert!(manager.active("pids") && manager.active("cpu"), "{:?}", manager.states());
    let memory = manager.states().iter().find(|s| s.name == "memory").unwrap();
    assert!(!memory.active, "{memory:?}");
    assert!(memory.detail.contains("cannot enable it") && memory.detail.contains("system.slice"), "{memory:?}");
    let run = manager.create(&LIMITS).unwrap().unwrap();
    let RunCgroup::V2(v2) = &run else { panic!("expected a v2 cgroup") };
    assert!(!v2.dir.join("memory.max").exists(), "no memory limit where the controller is missing");
    assert_eq!(read(&v2.dir, "pids.max"), "64");
}

#[test]
fn v2_a_parent_that_cannot_be_made_names_each_controller_in_its_reason() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v2(root.path(), "cpu memory pids");
    // Where the parent would go there is a file: no run's cgroup can be made under it.
    fs::write(root.path().join("sandbox-executor"), "").unwrap();
    let manager = Manager::with_layout(&CgroupConfig::default(), &layout, true);
    for controller in ["memory", "pids", "cpu"] {
        let state = manager.states().iter().find(|s| s.name == controller).unwrap();
        assert!(!state.active, "{state:?}");
        assert!(state.detail.contains(&format!("the {controller} controller")), "{state:?}");
    }
}
