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

/// `syscalls! { read, write }`: each name with its number from [`numbers`], so a typo or a call
/// the target lacks fails to compile.
use super::numbers;

macro_rules! syscalls {
    ($($name:ident),* $(,)?) => {
        &[$(Syscall { name: stringify!($name), nr: numbers::$name }),*]
    };
}

/// Allowed unconditionally, grouped by what they are for.
pub const ALLOWED: &[(&str, &[Syscall])] = &[
    (
        "file descriptors and file I/O",
        syscalls! {
            read, write, readv, writev, pread64, pwrite64, preadv, pwritev, preadv2, pwritev2, lseek, close,
            close_range, dup, dup2, dup3, pipe, pipe2, fcntl, flock, fsync, fdatasync, sync, syncfs,
            sync_file_range, fadvise64, readahead, fallocate, ftruncate, truncate, sendfile, splice, tee,
            copy_file_range, memfd_create,
        },
    ),
    (
        "paths, metadata and directories",
        syscalls! {
            open, openat, openat2, creat, stat, fstat, lstat, newfstatat, statx, statfs, fstatfs, access,
            faccessat, faccessat2, readlink, readlinkat, getdents, getdents64, getcwd, chdir, fchdir, mkdir,
            mkdirat, rmdir, unlink, unlinkat, rename, renameat, renameat2, link, linkat, symlink, symlinkat,
            chmod, fchmod, fchmodat, fchmodat2, chown, fchown, lchown, fchownat, umask, utime, utimes,
            utimensat, futimesat, mknod, mknodat, getxattr, lgetxattr, fgetxattr, listxattr, llistxattr,
            flistxattr, setxattr, lsetxattr, fsetxattr, removexattr, lremovexattr, fremovexattr, inotify_init,
            inotify_init1, inotify_add_watch, inotify_rm_watch,
        },
    ),
    (
        "memory (NUMA policy calls only affect the caller's own memory; numpy's allocator uses mbind)",
        syscalls! {
            brk, mmap, munmap, mremap, mprotect, madvise, msync, mincore, mlock, mlock2, munlock, mlockall,
            munlockall, membarrier, mbind, get_mempolicy, set_mempolicy, pkey_alloc, pkey_free, pkey_mprotect,
            mseal,
        },
    ),
    (
        "processes and threads (clone is allowed below, without namespace flags)",
        syscalls! {
            fork, vfork, execve, execveat, exit, exit_group, wait4, waitid, getpid, getppid, gettid, getpgid,
            setpgid, getpgrp, getsid, setsid, set_tid_address, set_robust_list, get_robust_list, rseq, futex,
            futex_waitv, arch_prctl, prctl, pidfd_open, pidfd_send_signal, seccomp, landlock_create_ruleset,
            landlock_add_rule, landlock_restrict_self,
        },
    ),
    (
        "credentials (no capabilities are left: these can only keep or lower privileges)",
        syscalls! {
            getuid, geteuid, getgid, getegid, getresuid, getresgid, getgroups, setuid, setgid, setreuid,
            setregid, setresuid, setresgid, setgroups, setfsuid, setfsgid, capget, capset,
        },
    ),
    (
        "signals and timers",
        syscalls! {
            rt_sigaction, rt_sigprocmask, rt_sigreturn, rt_sigsuspend, rt_sigpending, rt_sigtimedwait,
            rt_sigqueueinfo, rt_tgsigqueueinfo, sigaltstack, signalfd, signalfd4, kill, tkill, tgkill, pause,
            alarm, getitimer, setitimer, timer_create, timer_settime, timer_gettime, timer_getoverrun,
            timer_delete, timerfd_create, timerfd_settime, timerfd_gettime, restart_syscall,
        },
    ),
    (
        "clocks (reading only) and sleeping",
        syscalls! { clock_gettime, clock_getres, clock_nanosleep, gettimeofday, time, nanosleep },
    ),
    (
        "scheduling and resource limits (lowering only without capabilities)",
        syscalls! {
            sched_yield, sched_getaffinity, sched_setaffinity, sched_getparam, sched_setparam,
            sched_getscheduler, sched_setscheduler, sched_get_priority_max, sched_get_priority_min,
            sched_rr_get_interval, sched_getattr, getpriority, setpriority, ioprio_get, ioprio_set, getrlimit,
            setrlimit, prlimit64, getrusage, times, getcpu,
        },
    ),
    (
        "polling and events",
        syscalls! {
            select, pselect6, poll, ppoll, epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait,
            epoll_pwait2, eventfd, eventfd2,
        },
    ),
    (
        "sockets (socket itself is allowed below for a few families)",
        syscalls! {
            socketpair, bind, listen, accept, accept4, connect, getsockname, getpeername, sendto, recvfrom,
            sendmsg, recvmsg, sendmmsg, recvmmsg, shutdown, setsockopt, getsockopt,
        },
    ),
    (
        "System V IPC (private to the sandbox's IPC namespace)",
        syscalls! {
            shmget, shmat, shmdt, shmctl, semget, semop, semtimedop, semctl, msgget, msgsnd, msgrcv, msgctl,
        },
    ),
    ("system information", syscalls! { uname, sysinfo, getrandom }),
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
        syscalls: syscalls! { clone3 },
    },
    Denied {
        denial: Denial::Enosys,
        why: "a large attack surface; libuv falls back to its thread pool",
        syscalls: syscalls! { io_uring_setup, io_uring_enter, io_uring_register },
    },
    Denied {
        denial: Denial::Eperm,
        why: "new namespaces would undo the sandbox's own",
        syscalls: syscalls! { unshare, setns },
    },
    Denied {
        denial: Denial::Eperm,
        why: "the filesystem view is fixed by the sandbox",
        syscalls: syscalls! {
            mount, umount2, pivot_root, chroot, move_mount, open_tree, fsopen, fsconfig, fsmount, fspick,
            mount_setattr,
        },
    },
    Denied {
        denial: Denial::Eperm,
        why: "reading or writing other processes' memory",
        syscalls: syscalls! { ptrace, process_vm_readv, process_vm_writev, pidfd_getfd, process_madvise, kcmp },
    },
    Denied {
        denial: Denial::Eperm,
        why: "the kernel keyring is not namespaced",
        syscalls: syscalls! { keyctl, add_key, request_key },
    },
    Denied {
        denial: Denial::Eperm,
        why: "kernel attack surface with no use in the sandbox",
        syscalls: syscalls! { bpf, perf_event_open, userfaultfd, modify_ldt, vmsplice },
    },
    Denied {
        denial: Denial::Eperm,
        why: "loading code into the kernel",
        syscalls: syscalls! { kexec_load, kexec_file_load, init_module, finit_module, delete_module },
    },
    Denied {
        denial: Denial::Eperm,
        why: "host administration",
        syscalls: syscalls! {
            acct, swapon, swapoff, reboot, quotactl, quotactl_fd, nfsservctl, vhangup, syslog, lookup_dcookie,
            iopl, ioperm,
        },
    },
    Denied {
        denial: Denial::Eperm,
        why: "clocks are the host's",
        syscalls: syscalls! { settimeofday, clock_settime, clock_adjtime, adjtimex },
    },
    Denied {
        denial: Denial::Eperm,
        why: "the hostname is fixed by the sandbox",
        syscalls: syscalls! { sethostname, setdomainname },
    },
    Denied {
        denial: Denial::Eperm,
        why: "opening files by handle bypasses path checks",
        syscalls: syscalls! { open_by_handle_at, name_to_handle_at },
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
