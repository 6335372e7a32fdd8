//! Compiles the [`policy`](super::policy) into BPF with seccompiler and installs it on the
//! calling process, right before it executes the program.
//!
//! Two filters are stacked. The allowlist answers `EPERM` for anything it does not allow; the
//! second answers `ENOSYS` for the few calls whose callers need that to fall back, and allows
//! the rest. For a call both deny, the kernel keeps the answer of the newer filter (the second),
//! so those calls fail with `ENOSYS`.
//!
//! Each filter starts with our own checks: a call from a foreign architecture (32-bit
//! `int 0x80` on x86_64) or with an x32 number fails with `EPERM`. seccompiler's own
//! architecture check, which comes after and would kill the process, then always passes.

use std::collections::BTreeMap;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::policy::{Check, Denial, ALLOWED, CONDITIONAL, DENIED};

const TARGET: TargetArch = TargetArch::x86_64;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Numbers of the x32 ABI have this bit set.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Classic BPF opcodes (linux/bpf_common.h: class | size/op | mode/source) and
// `struct seccomp_data` offsets.
const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD 0x00 | BPF_W 0x00 | BPF_ABS 0x20
const BPF_JMP_JEQ_K: u16 = 0x15; // BPF_JMP 0x05 | BPF_JEQ 0x10 | BPF_K 0x00
const BPF_JMP_JGE_K: u16 = 0x35; // BPF_JMP 0x05 | BPF_JGE 0x30 | BPF_K 0x00
const BPF_RET_K: u16 = 0x06; // BPF_RET 0x06 | BPF_K 0x00
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

/// Why the policy could not be compiled into filters, or a filter not installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error(transparent)]
    Filter(#[from] seccompiler::BackendError),
    /// The filters this process compiled once could not be.
    #[error(transparent)]
    Compiled(&'static SeccompError),
    #[error("{0}")]
    Install(seccompiler::Error),
}

/// The filters to install, in order.
pub fn compile() -> Result<Vec<BpfProgram>, SeccompError> {
    let eperm = SeccompAction::Errno(Denial::Eperm.errno());
    let mut allow: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (_, group) in ALLOWED {
        for call in *group {
            allow.insert(call.nr, Vec::new());
        }
    }
    for conditional in CONDITIONAL {
        let rules = conditional.when.iter().map(|checks| rule(checks)).collect::<Result<Vec<_>, _>>()?;
        allow.insert(conditional.syscall.nr, rules);
    }
    let allowlist = SeccompFilter::new(allow, eperm, SeccompAction::Allow, TARGET)?;

    let enosys = SeccompAction::Errno(Denial::Enosys.errno());
    let fall_back: BTreeMap<i64, Vec<SeccompRule>> = DENIED
        .iter()
        .filter(|d| d.denial == Denial::Enosys)
        .flat_map(|d| d.syscalls.iter().map(|call| (call.nr, Vec::new())))
        .collect();
    let fallbacks = SeccompFilter::new(fall_back, SeccompAction::Allow, enosys, TARGET)?;

    [allowlist, fallbacks]
        .into_iter()
        .map(|filter| {
            let body: BpfProgram = filter.try_into()?;
            Ok(guarded(body))
        })
        .collect()
}

/// Installs the filters on the calling thread (the program's process is single-threaded
/// here). Needs no_new_privs, which the caller has set. The error is its message: the
/// program's setup reports it as the stage's.
pub fn install() -> Result<(), String> {
    apply().map_err(|e| e.to_string())
}

fn apply() -> Result<(), SeccompError> {
    for program in compiled().map_err(SeccompError::Compiled)? {
        seccompiler::apply_filter(program).map_err(SeccompError::Install)?;
    }
    Ok(())
}

/// The filters, compiled once per process: a zygote compiles them before it forks (see
/// [`crate::init::prepare_forks`]), so that its forks only install them.
pub fn compiled() -> Result<&'static [BpfProgram], &'static SeccompError> {
    static COMPILED: std::sync::OnceLock<Result<Vec<BpfProgram>, SeccompError>> = std::sync::OnceLock::new();
    COMPILED.get_or_init(compile).as_deref()
}

fn rule(checks: &[Check]) -> Result<SeccompRule, SeccompError> {
    let conditions = checks
        .iter()
        .map(|check| {
            let (arg, op, value) = match *check {
                Check::Eq { arg, value } => (arg, SeccompCmpOp::Eq, value),
                Check::Ne { arg, value } => (arg, SeccompCmpOp::Ne, value),
                Check::Masked { arg, mask, value } => (arg, SeccompCmpOp::MaskedEq(mask.into()), value),
            };
            SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value.into())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SeccompRule::new(conditions)?)
}

/// `body` behind the architecture and x32 checks.
fn guarded(body: BpfProgram) -> BpfProgram {
    let deny = libc::SECCOMP_RET_ERRNO | Denial::Eperm.errno();
    let mut program = vec![
        insn(BPF_LD_W_ABS, 0, 0, DATA_ARCH),
        insn(BPF_JMP_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        insn(BPF_RET_K, 0, 0, deny),
        insn(BPF_LD_W_ABS, 0, 0, DATA_NR),
        insn(BPF_JMP_JGE_K, 0, 1, X32_SYSCALL_BIT),
        insn(BPF_RET_K, 0, 0, deny),
    ];
    program.extend(body);
    program
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_compiles_to_bpf_for_x86_64() {
        let programs = compile().expect("the policy compiles");
        assert_eq!(programs.len(), 2);
        for program in &programs {
            // The kernel's limit is 4096 instructions per filter.
            assert!(program.len() < 4096, "{} instructions", program.len());
            assert_eq!(program[0], insn(BPF_LD_W_ABS, 0, 0, DATA_ARCH));
        }
    }

    /// A small interpreter of the few classic BPF instructions seccompiler and the guard emit,
    /// so the compiled filters can be checked without installing them.
    fn run(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        loop {
            let i = &program[pc];
            pc += 1;
            match i.code {
                0x20 => acc = u32::from_ne_bytes(data[i.k as usize..i.k as usize + 4].try_into().unwrap()),
                0x54 => acc &= i.k,
                0x05 => pc += i.k as usize,
                0x15 | 0x25 | 0x35 => {
                    let hit = match i.code {
                        0x15 => acc == i.k,
                        0x25 => acc > i.k,
                        _ => acc >= i.k,
                    };
                    pc += if hit { i.jt } else { i.jf } as usize;
                }
                0x06 => return i.k,
                other => panic!("unexpected BPF opcode {other:#x}"),
            }
        }
    }

    /// The kernel's verdict for a stack of filters: the most severe action wins, and among
    /// equal actions the newest filter's.
    fn verdict(arch: u32, nr: i64, args: [u64; 6]) -> u32 {
        let programs = compile().unwrap();
        let results: Vec<u32> = programs.iter().rev().map(|p| run(p, arch, nr as u32, args)).collect();
        let mut best = results[0];
        for r in results {
            if (r & 0xffff_0000) < (best & 0xffff_0000) {
                best = r;
            }
        }
        best
    }

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

    #[test]
    fn verdicts_follow_the_policy() {
        let x86 = AUDIT_ARCH_X86_64;
        let none = [0; 6];
        assert_eq!(verdict(x86, libc::SYS_read, none), ALLOW);
        assert_eq!(verdict(x86, libc::SYS_execve, none), ALLOW);
        assert_eq!(verdict(x86, libc::SYS_ptrace, none), EPERM);
        assert_eq!(verdict(x86, libc::SYS_unshare, none), EPERM);
        assert_eq!(verdict(x86, libc::SYS_clone3, none), ENOSYS);
        assert_eq!(verdict(x86, libc::SYS_io_uring_setup, none), ENOSYS);
        // An unknown number, an x32 number and a 32-bit call.
        assert_eq!(verdict(x86, 999, none), EPERM);
        assert_eq!(verdict(x86, libc::SYS_getpid | X32_SYSCALL_BIT as i64, none), EPERM);
        assert_eq!(verdict(0x4000_0003 /* AUDIT_ARCH_I386 */, 20, none), EPERM);
    }

    #[test]
    fn argument_checks() {
        let x86 = AUDIT_ARCH_X86_64;
        let thread =
            (libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_FILES | libc::CLONE_SIGHAND | libc::CLONE_THREAD) as u64;
        assert_eq!(verdict(x86, libc::SYS_clone, [thread, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(verdict(x86, libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]), ALLOW);
        for flag in [libc::CLONE_NEWUSER, libc::CLONE_NEWNS, libc::CLONE_NEWNET, libc::CLONE_NEWPID] {
            let flags = (flag | libc::SIGCHLD) as u64;
            assert_eq!(verdict(x86, libc::SYS_clone, [flags, 0, 0, 0, 0, 0]), EPERM, "{flag:#x}");
        }
        let socket = |domain: i32, ty: i32| verdict(x86, libc::SYS_socket, [domain as u64, ty as u64, 0, 0, 0, 0]);
        assert_eq!(socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC), ALLOW);
        assert_eq!(socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK), ALLOW);
        assert_eq!(socket(libc::AF_INET6, libc::SOCK_DGRAM), ALLOW);
        assert_eq!(socket(libc::AF_INET, libc::SOCK_RAW), EPERM);
        assert_eq!(socket(libc::AF_PACKET, libc::SOCK_RAW), EPERM);
        assert_eq!(socket(libc::AF_NETLINK, libc::SOCK_RAW), EPERM);
        let personality = |p: u64| verdict(x86, libc::SYS_personality, [p, 0, 0, 0, 0, 0]);
        assert_eq!(personality(0), ALLOW);
        assert_eq!(personality(0xffff_ffff), ALLOW);
        assert_eq!(personality(libc::ADDR_NO_RANDOMIZE as u64), EPERM);
        let ioctl = |cmd: u64| verdict(x86, libc::SYS_ioctl, [1, cmd, 0, 0, 0, 0]);
        assert_eq!(ioctl(libc::TCGETS), ALLOW);
        assert_eq!(ioctl(libc::TIOCSTI), EPERM);
        // The kernel reads the command as 32 bits: high bits do not smuggle it past the check.
        assert_eq!(ioctl(libc::TIOCSTI | (1 << 32)), EPERM);
    }
}
