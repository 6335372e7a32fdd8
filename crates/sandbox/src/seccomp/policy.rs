//! The system call policy of every sandboxed program, as data: what is allowed (grouped by
//! purpose), what is allowed only with certain arguments, and what is denied on purpose and
//! why. Anything not listed is denied with `EPERM` as well; the deny list documents intent and
//! picks `ENOSYS` where callers need it to fall back to an older call.
//!
//! Written for x86_64 (numbers come from libc for the build target). Sized for what CPython
//! (numpy, pandas, matplotlib, scipy, subprocess, threads, multiprocessing), Node 20 (libuv,
//! worker threads, child_process) and bash with coreutils use.

/// A system call by name and its number on the build target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syscall {
    pub name: &'static str,
    pub nr: i64,
}

/// `syscalls![read, write]`: each name with its number from [`numbers`], so a typo or a call
/// the target lacks fails to compile.
macro_rules! syscalls {
    ($($name:ident),* $(,)?) => {
        &[$(Syscall { name: stringify!($name), nr: numbers::$name }),*]
    };
}

/// Allowed unconditionally, grouped by what they are for.
pub const ALLOWED: &[(&str, &[Syscall])] = &[
    (
        "file descriptors and file I/O",
        syscalls![
            read,
            write,
            readv,
            writev,
            pread64,
            pwrite64,
            preadv,
            pwritev,
            preadv2,
            pwritev2,
            lseek,
            close,
            close_range,
            dup,
            dup2,
            dup3,
            pipe,
            pipe2,
            fcntl,
            flock,
            fsync,
            fdatasync,
            sync,
            syncfs,
            sync_file_range,
            fadvise64,
            readahead,
            fallocate,
            ftruncate,
            truncate,
            sendfile,
            splice,
            tee,
            copy_file_range,
            memfd_create,
        ],
    ),
    (
        "paths, metadata and directories",
        syscalls![
            open,
            openat,
            openat2,
            creat,
            stat,
            fstat,
            lstat,
            newfstatat,
            statx,
            statfs,
            fstatfs,
            access,
            faccessat,
            faccessat2,
            readlink,
            readlinkat,
            getdents,
            getdents64,
            getcwd,
            chdir,
            fchdir,
            mkdir,
            mkdirat,
            rmdir,
            unlink,
            unlinkat,
            rename,
            renameat,
            renameat2,
            link,
            linkat,
            symlink,
            symlinkat,
            chmod,
            fchmod,
            fchmodat,
            fchmodat2,
            chown,
            fchown,
            lchown,
            fchownat,
            umask,
            utime,
            utimes,
            utimensat,
            futimesat,
            mknod,
            mknodat,
            getxattr,
            lgetxattr,
            fgetxattr,
            listxattr,
            llistxattr,
            flistxattr,
            setxattr,
            lsetxattr,
            fsetxattr,
            removexattr,
            lremovexattr,
            fremovexattr,
            inotify_init,
            inotify_init1,
            inotify_add_watch,
            inotify_rm_watch,
        ],
    ),
    (
        "memory (NUMA policy calls only affect the caller's own memory; numpy's allocator uses mbind)",
        syscalls![
            brk,
            mmap,
            munmap,
            mremap,
            mprotect,
            madvise,
            msync,
            mincore,
            mlock,
            mlock2,
            munlock,
            mlockall,
            munlockall,
            membarrier,
            mbind,
            get_mempolicy,
            set_mempolicy,
            pkey_alloc,
            pkey_free,
            pkey_mprotect,
            mseal,
        ],
    ),
    (
        "processes and threads (clone is allowed below, without namespace flags)",
        syscalls![
            fork,
            vfork,
            execve,
            execveat,
            exit,
            exit_group,
            wait4,
            waitid,
            getpid,
            getppid,
            gettid,
            getpgid,
            setpgid,
            getpgrp,
            getsid,
            setsid,
            set_tid_address,
            set_robust_list,
            get_robust_list,
            rseq,
            futex,
            futex_waitv,
            arch_prctl,
            prctl,
            pidfd_open,
            pidfd_send_signal,
            seccomp,
            landlock_create_ruleset,
            landlock_add_rule,
            landlock_restrict_self,
        ],
    ),
    (
        "credentials (no capabilities are left: these can only keep or lower privileges)",
        syscalls![
            getuid, geteuid, getgid, getegid, getresuid, getresgid, getgroups, setuid, setgid, setreuid, setregid,
            setresuid, setresgid, setgroups, setfsuid, setfsgid, capget, capset,
        ],
    ),
    (
        "signals and timers",
        syscalls![
            rt_sigaction,
            rt_sigprocmask,
            rt_sigreturn,
            rt_sigsuspend,
            rt_sigpending,
            rt_sigtimedwait,
            rt_sigqueueinfo,
            rt_tgsigqueueinfo,
            sigaltstack,
            signalfd,
            signalfd4,
            kill,
            tkill,
            tgkill,
            pause,
            alarm,
            getitimer,
            setitimer,
            timer_create,
            timer_settime,
            timer_gettime,
            timer_getoverrun,
            timer_delete,
            timerfd_create,
            timerfd_settime,
            timerfd_gettime,
            restart_syscall,
        ],
    ),
    (
        "clocks (reading only) and sleeping",
        syscalls![clock_gettime, clock_getres, clock_nanosleep, gettimeofday, time, nanosleep,],
    ),
    (
        "scheduling and resource limits (lowering only without capabilities)",
        syscalls![
            sched_yield,
            sched_getaffinity,
            sched_setaffinity,
            sched_getparam,
            sched_setparam,
            sched_getscheduler,
            sched_setscheduler,
            sched_get_priority_max,
            sched_get_priority_min,
            sched_rr_get_interval,
            sched_getattr,
            getpriority,
            setpriority,
            ioprio_get,
            ioprio_set,
            getrlimit,
            setrlimit,
            prlimit64,
            getrusage,
            times,
            getcpu,
        ],
    ),
    (
        "polling and events",
        syscalls![
            select,
            pselect6,
            poll,
            ppoll,
            epoll_create,
            epoll_create1,
            epoll_ctl,
            epoll_wait,
            epoll_pwait,
            epoll_pwait2,
            eventfd,
            eventfd2,
        ],
    ),
    (
        "sockets (socket itself is allowed below for a few families)",
        syscalls![
            socketpair,
            bind,
            listen,
            accept,
            accept4,
            connect,
            getsockname,
            getpeername,
            sendto,
            recvfrom,
            sendmsg,
            recvmsg,
            sendmmsg,
            recvmmsg,
            shutdown,
            setsockopt,
            getsockopt,
        ],
    ),
    (
        "System V IPC (private to the sandbox's IPC namespace)",
        syscalls![shmget, shmat, shmdt, shmctl, semget, semop, semtimedop, semctl, msgget, msgsnd, msgrcv, msgctl,],
    ),
    ("system information", syscalls![uname, sysinfo, getrandom]),
];

/// One comparison against a system call argument (its low 32 bits: every argument checked
/// here is an `int` or is truncated to 32 bits by the kernel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Eq {
        arg: u8,
        value: u32,
    },
    Ne {
        arg: u8,
        value: u32,
    },
    /// `(arg & mask) == value`
    Masked {
        arg: u8,
        mask: u32,
        value: u32,
    },
}

/// A system call allowed only when one of `when` matches (each a list of checks that must all
/// hold); otherwise denied with `EPERM`.
#[derive(Debug, Clone, Copy)]
pub struct Conditional {
    pub syscall: Syscall,
    pub why: &'static str,
    pub when: &'static [&'static [Check]],
}

/// Every `CLONE_NEW*` flag `clone` accepts (`CLONE_NEWTIME` shares its bit with the exit
/// signal in `clone` and only means a namespace in `clone3` and `unshare`, both denied).
pub const CLONE_NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// `personality(PER_LINUX)` and the query `personality(0xffffffff)`: nothing else, so
/// no ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC or other execution-domain tricks.
const PER_LINUX: u32 = 0;
const PER_QUERY: u32 = 0xffff_ffff;
/// The socket type without SOCK_NONBLOCK / SOCK_CLOEXEC.
const SOCK_TYPE_MASK: u32 = 0xf;

pub const CONDITIONAL: &[Conditional] = &[
    Conditional {
        syscall: Syscall { name: "clone", nr: libc::SYS_clone },
        why: "threads, fork and posix_spawn, but no new namespaces",
        when: &[&[Check::Masked { arg: 0, mask: CLONE_NAMESPACE_FLAGS, value: 0 }]],
    },
    Conditional {
        syscall: Syscall { name: "socket", nr: libc::SYS_socket },
        // No netlink: glibc's getaddrinfo works without it (AI_ADDRCONFIG then assumes
        // both families); only interface listing (if_nameindex, getifaddrs) fails.
        why: "unix sockets, and TCP/UDP over IPv4/IPv6; no raw, packet or netlink sockets",
        when: &[
            &[Check::Eq { arg: 0, value: libc::AF_UNIX as u32 }],
            &[
                Check::Eq { arg: 0, value: libc::AF_INET as u32 },
                Check::Masked { arg: 1, mask: SOCK_TYPE_MASK, value: libc::SOCK_STREAM as u32 },
            ],
            &[
                Check::Eq { arg: 0, value: libc::AF_INET as u32 },
                Check::Masked { arg: 1, mask: SOCK_TYPE_MASK, value: libc::SOCK_DGRAM as u32 },
            ],
            &[
                Check::Eq { arg: 0, value: libc::AF_INET6 as u32 },
                Check::Masked { arg: 1, mask: SOCK_TYPE_MASK, value: libc::SOCK_STREAM as u32 },
            ],
            &[
                Check::Eq { arg: 0, value: libc::AF_INET6 as u32 },
                Check::Masked { arg: 1, mask: SOCK_TYPE_MASK, value: libc::SOCK_DGRAM as u32 },
            ],
        ],
    },
    Conditional {
        syscall: Syscall { name: "personality", nr: libc::SYS_personality },
        why: "the default execution domain and the query only",
        when: &[&[Check::Eq { arg: 0, value: PER_LINUX }], &[Check::Eq { arg: 0, value: PER_QUERY }]],
    },
    Conditional {
        syscall: Syscall { name: "ioctl", nr: libc::SYS_ioctl },
        why: "everything but pushing input into a terminal (TIOCSTI) and the console ioctls (TIOCLINUX)",
        when: &[&[
            Check::Ne { arg: 1, value: libc::TIOCSTI as u32 },
            Check::Ne { arg: 1, value: libc::TIOCLINUX as u32 },
        ]],
    },
];

/// How a denied call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// "Operation not permitted": the call exists but is not for this program.
    Eperm,
    /// "Function not implemented": callers (glibc, libuv) then fall back to an older call.
    Enosys,
}

impl Denial {
    pub fn errno(self) -> u32 {
        match self {
            Denial::Eperm => libc::EPERM as u32,
            Denial::Enosys => libc::ENOSYS as u32,
        }
    }
}

/// System calls denied on purpose, all the same way for the same reason.
#[derive(Debug, Clone, Copy)]
pub struct Denied {
    pub denial: Denial,
    pub why: &'static str,
    pub syscalls: &'static [Syscall],
}

/// Denied on purpose. Everything else that is not allowed is denied with `EPERM` too.
pub const DENIED: &[Denied] = &[
    Denied {
        denial: Denial::Enosys,
        why: "glibc falls back to clone, whose flags can be checked",
        syscalls: syscalls![clone3],
    },
    Denied {
        denial: Denial::Enosys,
        why: "a large attack surface; libuv falls back to its thread pool",
        syscalls: syscalls![io_uring_setup, io_uring_enter, io_uring_register],
    },
    Denied {
        denial: Denial::Eperm,
        why: "new namespaces would undo the sandbox's own",
        syscalls: syscalls![unshare, setns],
    },
    Denied {
        denial: Denial::Eperm,
        why: "the filesystem view is fixed by the sandbox",
        syscalls: syscalls![
            mount,
            umount2,
            pivot_root,
            chroot,
            move_mount,
            open_tree,
            fsopen,
            fsconfig,
            fsmount,
            fspick,
            mount_setattr
        ],
    },
    Denied {
        denial: Denial::Eperm,
        why: "reading or writing other processes' memory",
        syscalls: syscalls![ptrace, process_vm_readv, process_vm_writev, pidfd_getfd, process_madvise, kcmp],
    },
    Denied {
        denial: Denial::Eperm,
        why: "the kernel keyring is not namespaced",
        syscalls: syscalls![keyctl, add_key, request_key],
    },
    Denied {
        denial: Denial::Eperm,
        why: "kernel attack surface with no use in the sandbox",
        syscalls: syscalls![bpf, perf_event_open, userfaultfd, modify_ldt, vmsplice],
    },
    Denied {
        denial: Denial::Eperm,
        why: "loading code into the kernel",
        syscalls: syscalls![kexec_load, kexec_file_load, init_module, finit_module, delete_module],
    },
    Denied {
        denial: Denial::Eperm,
        why: "host administration",
        syscalls: syscalls![
            acct,
            swapon,
            swapoff,
            reboot,
            quotactl,
            quotactl_fd,
            nfsservctl,
            vhangup,
            syslog,
            lookup_dcookie,
            iopl,
            ioperm
        ],
    },
    Denied {
        denial: Denial::Eperm,
        why: "clocks are the host's",
        syscalls: syscalls![settimeofday, clock_settime, clock_adjtime, adjtimex],
    },
    Denied {
        denial: Denial::Eperm,
        why: "the hostname is fixed by the sandbox",
        syscalls: syscalls![sethostname, setdomainname],
    },
    Denied {
        denial: Denial::Eperm,
        why: "opening files by handle bypasses path checks",
        syscalls: syscalls![open_by_handle_at, name_to_handle_at],
    },
];

/// The whole policy as text, sorted, for review: see `policy.snapshot`.
pub fn render() -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "# The seccomp policy of sandboxed programs (x86_64).\n\
         # Generated from policy.rs: UPDATE_SNAPSHOT=1 cargo test -p sandbox --lib seccomp\n\
         default: EPERM\nforeign architectures and x32 numbers: EPERM\n",
    );
    let mut allowed: Vec<&Syscall> = ALLOWED.iter().flat_map(|(_, calls)| calls.iter()).collect();
    allowed.sort_by_key(|c| c.name);
    let _ = writeln!(out, "\nallow ({}):", allowed.len());
    for call in allowed {
        let _ = writeln!(out, "  {} ({})", call.name, call.nr);
    }
    let mut conditional: Vec<&Conditional> = CONDITIONAL.iter().collect();
    conditional.sort_by_key(|c| c.syscall.name);
    let _ = writeln!(out, "\nallow only when (else EPERM):");
    for c in conditional {
        let alternatives: Vec<String> = c
            .when
            .iter()
            .map(|checks| {
                let all: Vec<String> = checks.iter().map(|check| check.to_string()).collect();
                if all.len() > 1 && c.when.len() > 1 {
                    format!("({})", all.join(" && "))
                } else {
                    all.join(" && ")
                }
            })
            .collect();
        let _ = writeln!(out, "  {} ({}): {}  # {}", c.syscall.name, c.syscall.nr, alternatives.join(" || "), c.why);
    }
    let mut denied: Vec<(&Syscall, &Denied)> =
        DENIED.iter().flat_map(|d| d.syscalls.iter().map(move |call| (call, d))).collect();
    denied.sort_by_key(|(call, _)| call.name);
    let _ = writeln!(out, "\ndeny:");
    for (call, d) in denied {
        let errno = match d.denial {
            Denial::Eperm => "EPERM",
            Denial::Enosys => "ENOSYS",
        };
        let _ = writeln!(out, "  {} ({}): {errno}  # {}", call.name, call.nr, d.why);
    }
    out
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Check::Eq { arg, value } => write!(f, "arg{arg} == {value:#x}"),
            Check::Ne { arg, value } => write!(f, "arg{arg} != {value:#x}"),
            Check::Masked { arg, mask, value } => write!(f, "arg{arg} & {mask:#x} == {value:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_policy_matches_its_reviewed_snapshot() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/seccomp/policy.snapshot");
        let rendered = render();
        if std::env::var_os("UPDATE_SNAPSHOT").is_some() {
            std::fs::write(path, &rendered).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == rendered,
            "the seccomp policy changed: review it and regenerate {path} with UPDATE_SNAPSHOT=1"
        );
    }

    #[test]
    fn no_call_is_both_allowed_and_denied_nor_listed_twice() {
        let mut seen = BTreeSet::new();
        let allowed = ALLOWED.iter().flat_map(|(_, calls)| calls.iter());
        let all =
            allowed.chain(CONDITIONAL.iter().map(|c| &c.syscall)).chain(DENIED.iter().flat_map(|d| d.syscalls.iter()));
        for call in all {
            assert!(seen.insert(call.nr), "{} is listed twice", call.name);
        }
    }
}

/// The numbers of the target, under the names used above.
pub mod numbers {
    pub use libc::{
        SYS_accept as accept, SYS_accept4 as accept4, SYS_access as access, SYS_acct as acct, SYS_add_key as add_key,
        SYS_adjtimex as adjtimex, SYS_alarm as alarm, SYS_arch_prctl as arch_prctl, SYS_bind as bind, SYS_bpf as bpf,
        SYS_brk as brk, SYS_capget as capget, SYS_capset as capset, SYS_chdir as chdir, SYS_chmod as chmod,
        SYS_chown as chown, SYS_chroot as chroot, SYS_clock_adjtime as clock_adjtime, SYS_clock_getres as clock_getres,
        SYS_clock_gettime as clock_gettime, SYS_clock_nanosleep as clock_nanosleep, SYS_clock_settime as clock_settime,
        SYS_clone3 as clone3, SYS_close as close, SYS_close_range as close_range, SYS_connect as connect,
        SYS_copy_file_range as copy_file_range, SYS_creat as creat, SYS_delete_module as delete_module, SYS_dup as dup,
        SYS_dup2 as dup2, SYS_dup3 as dup3, SYS_epoll_create as epoll_create, SYS_epoll_create1 as epoll_create1,
        SYS_epoll_ctl as epoll_ctl, SYS_epoll_pwait as epoll_pwait, SYS_epoll_pwait2 as epoll_pwait2,
        SYS_epoll_wait as epoll_wait, SYS_eventfd as eventfd, SYS_eventfd2 as eventfd2, SYS_execve as execve,
        SYS_execveat as execveat, SYS_exit as exit, SYS_exit_group as exit_group, SYS_faccessat as faccessat,
        SYS_faccessat2 as faccessat2, SYS_fadvise64 as fadvise64, SYS_fallocate as fallocate, SYS_fchdir as fchdir,
        SYS_fchmod as fchmod, SYS_fchmodat as fchmodat, SYS_fchmodat2 as fchmodat2, SYS_fchown as fchown,
        SYS_fchownat as fchownat, SYS_fcntl as fcntl, SYS_fdatasync as fdatasync, SYS_fgetxattr as fgetxattr,
        SYS_finit_module as finit_module, SYS_flistxattr as flistxattr, SYS_flock as flock, SYS_fork as fork,
        SYS_fremovexattr as fremovexattr, SYS_fsconfig as fsconfig, SYS_fsetxattr as fsetxattr, SYS_fsmount as fsmount,
        SYS_fsopen as fsopen, SYS_fspick as fspick, SYS_fstat as fstat, SYS_fstatfs as fstatfs, SYS_fsync as fsync,
        SYS_ftruncate as ftruncate, SYS_futex as futex, SYS_futex_waitv as futex_waitv, SYS_futimesat as futimesat,
        SYS_get_mempolicy as get_mempolicy, SYS_get_robust_list as get_robust_list, SYS_getcpu as getcpu,
        SYS_getcwd as getcwd, SYS_getdents as getdents, SYS_getdents64 as getdents64, SYS_getegid as getegid,
        SYS_geteuid as geteuid, SYS_getgid as getgid, SYS_getgroups as getgroups, SYS_getitimer as getitimer,
        SYS_getpeername as getpeername, SYS_getpgid as getpgid, SYS_getpgrp as getpgrp, SYS_getpid as getpid,
        SYS_getppid as getppid, SYS_getpriority as getpriority, SYS_getrandom as getrandom, SYS_getresgid as getresgid,
        SYS_getresuid as getresuid, SYS_getrlimit as getrlimit, SYS_getrusage as getrusage, SYS_getsid as getsid,
        SYS_getsockname as getsockname, SYS_getsockopt as getsockopt, SYS_gettid as gettid,
        SYS_gettimeofday as gettimeofday, SYS_getuid as getuid, SYS_getxattr as getxattr,
        SYS_init_module as init_module, SYS_inotify_add_watch as inotify_add_watch, SYS_inotify_init as inotify_init,
        SYS_inotify_init1 as inotify_init1, SYS_inotify_rm_watch as inotify_rm_watch,
        SYS_io_uring_enter as io_uring_enter, SYS_io_uring_register as io_uring_register,
        SYS_io_uring_setup as io_uring_setup, SYS_ioperm as ioperm, SYS_iopl as iopl, SYS_ioprio_get as ioprio_get,
        SYS_ioprio_set as ioprio_set, SYS_kcmp as kcmp, SYS_kexec_file_load as kexec_file_load,
        SYS_kexec_load as kexec_load, SYS_keyctl as keyctl, SYS_kill as kill,
        SYS_landlock_add_rule as landlock_add_rule, SYS_landlock_create_ruleset as landlock_create_ruleset,
        SYS_landlock_restrict_self as landlock_restrict_self, SYS_lchown as lchown, SYS_lgetxattr as lgetxattr,
        SYS_link as link, SYS_linkat as linkat, SYS_listen as listen, SYS_listxattr as listxattr,
        SYS_llistxattr as llistxattr, SYS_lookup_dcookie as lookup_dcookie, SYS_lremovexattr as lremovexattr,
        SYS_lseek as lseek, SYS_lsetxattr as lsetxattr, SYS_lstat as lstat, SYS_madvise as madvise, SYS_mbind as mbind,
        SYS_membarrier as membarrier, SYS_memfd_create as memfd_create, SYS_mincore as mincore, SYS_mkdir as mkdir,
        SYS_mkdirat as mkdirat, SYS_mknod as mknod, SYS_mknodat as mknodat, SYS_mlock as mlock, SYS_mlock2 as mlock2,
        SYS_mlockall as mlockall, SYS_mmap as mmap, SYS_modify_ldt as modify_ldt, SYS_mount as mount,
        SYS_mount_setattr as mount_setattr, SYS_move_mount as move_mount, SYS_mprotect as mprotect,
        SYS_mremap as mremap, SYS_mseal as mseal, SYS_msgctl as msgctl, SYS_msgget as msgget, SYS_msgrcv as msgrcv,
        SYS_msgsnd as msgsnd, SYS_msync as msync, SYS_munlock as munlock, SYS_munlockall as munlockall,
        SYS_munmap as munmap, SYS_name_to_handle_at as name_to_handle_at, SYS_nanosleep as nanosleep,
        SYS_newfstatat as newfstatat, SYS_nfsservctl as nfsservctl, SYS_open as open,
        SYS_open_by_handle_at as open_by_handle_at, SYS_open_tree as open_tree, SYS_openat as openat,
        SYS_openat2 as openat2, SYS_pause as pause, SYS_perf_event_open as perf_event_open,
        SYS_pidfd_getfd as pidfd_getfd, SYS_pidfd_open as pidfd_open, SYS_pidfd_send_signal as pidfd_send_signal,
        SYS_pipe as pipe, SYS_pipe2 as pipe2, SYS_pivot_root as pivot_root, SYS_pkey_alloc as pkey_alloc,
        SYS_pkey_free as pkey_free, SYS_pkey_mprotect as pkey_mprotect, SYS_poll as poll, SYS_ppoll as ppoll,
        SYS_prctl as prctl, SYS_pread64 as pread64, SYS_preadv as preadv, SYS_preadv2 as preadv2,
        SYS_prlimit64 as prlimit64, SYS_process_madvise as process_madvise, SYS_process_vm_readv as process_vm_readv,
        SYS_process_vm_writev as process_vm_writev, SYS_pselect6 as pselect6, SYS_ptrace as ptrace,
        SYS_pwrite64 as pwrite64, SYS_pwritev as pwritev, SYS_pwritev2 as pwritev2, SYS_quotactl as quotactl,
        SYS_quotactl_fd as quotactl_fd, SYS_read as read, SYS_readahead as readahead, SYS_readlink as readlink,
        SYS_readlinkat as readlinkat, SYS_readv as readv, SYS_reboot as reboot, SYS_recvfrom as recvfrom,
        SYS_recvmmsg as recvmmsg, SYS_recvmsg as recvmsg, SYS_removexattr as removexattr, SYS_rename as rename,
        SYS_renameat as renameat, SYS_renameat2 as renameat2, SYS_request_key as request_key,
        SYS_restart_syscall as restart_syscall, SYS_rmdir as rmdir, SYS_rseq as rseq, SYS_rt_sigaction as rt_sigaction,
        SYS_rt_sigpending as rt_sigpending, SYS_rt_sigprocmask as rt_sigprocmask,
        SYS_rt_sigqueueinfo as rt_sigqueueinfo, SYS_rt_sigreturn as rt_sigreturn, SYS_rt_sigsuspend as rt_sigsuspend,
        SYS_rt_sigtimedwait as rt_sigtimedwait, SYS_rt_tgsigqueueinfo as rt_tgsigqueueinfo,
        SYS_sched_get_priority_max as sched_get_priority_max, SYS_sched_get_priority_min as sched_get_priority_min,
        SYS_sched_getaffinity as sched_getaffinity, SYS_sched_getattr as sched_getattr,
        SYS_sched_getparam as sched_getparam, SYS_sched_getscheduler as sched_getscheduler,
        SYS_sched_rr_get_interval as sched_rr_get_interval, SYS_sched_setaffinity as sched_setaffinity,
        SYS_sched_setparam as sched_setparam, SYS_sched_setscheduler as sched_setscheduler,
        SYS_sched_yield as sched_yield, SYS_seccomp as seccomp, SYS_select as select, SYS_semctl as semctl,
        SYS_semget as semget, SYS_semop as semop, SYS_semtimedop as semtimedop, SYS_sendfile as sendfile,
        SYS_sendmmsg as sendmmsg, SYS_sendmsg as sendmsg, SYS_sendto as sendto, SYS_set_mempolicy as set_mempolicy,
        SYS_set_robust_list as set_robust_list, SYS_set_tid_address as set_tid_address,
        SYS_setdomainname as setdomainname, SYS_setfsgid as setfsgid, SYS_setfsuid as setfsuid, SYS_setgid as setgid,
        SYS_setgroups as setgroups, SYS_sethostname as sethostname, SYS_setitimer as setitimer, SYS_setns as setns,
        SYS_setpgid as setpgid, SYS_setpriority as setpriority, SYS_setregid as setregid, SYS_setresgid as setresgid,
        SYS_setresuid as setresuid, SYS_setreuid as setreuid, SYS_setrlimit as setrlimit, SYS_setsid as setsid,
        SYS_setsockopt as setsockopt, SYS_settimeofday as settimeofday, SYS_setuid as setuid, SYS_setxattr as setxattr,
        SYS_shmat as shmat, SYS_shmctl as shmctl, SYS_shmdt as shmdt, SYS_shmget as shmget, SYS_shutdown as shutdown,
        SYS_sigaltstack as sigaltstack, SYS_signalfd as signalfd, SYS_signalfd4 as signalfd4,
        SYS_socketpair as socketpair, SYS_splice as splice, SYS_stat as stat, SYS_statfs as statfs, SYS_statx as statx,
        SYS_swapoff as swapoff, SYS_swapon as swapon, SYS_symlink as symlink, SYS_symlinkat as symlinkat,
        SYS_sync as sync, SYS_sync_file_range as sync_file_range, SYS_syncfs as syncfs, SYS_sysinfo as sysinfo,
        SYS_syslog as syslog, SYS_tee as tee, SYS_tgkill as tgkill, SYS_time as time, SYS_timer_create as timer_create,
        SYS_timer_delete as timer_delete, SYS_timer_getoverrun as timer_getoverrun, SYS_timer_gettime as timer_gettime,
        SYS_timer_settime as timer_settime, SYS_timerfd_create as timerfd_create,
        SYS_timerfd_gettime as timerfd_gettime, SYS_timerfd_settime as timerfd_settime, SYS_times as times,
        SYS_tkill as tkill, SYS_truncate as truncate, SYS_umask as umask, SYS_umount2 as umount2, SYS_uname as uname,
        SYS_unlink as unlink, SYS_unlinkat as unlinkat, SYS_unshare as unshare, SYS_userfaultfd as userfaultfd,
        SYS_utime as utime, SYS_utimensat as utimensat, SYS_utimes as utimes, SYS_vfork as vfork,
        SYS_vhangup as vhangup, SYS_vmsplice as vmsplice, SYS_wait4 as wait4, SYS_waitid as waitid, SYS_write as write,
        SYS_writev as writev,
    };
}
