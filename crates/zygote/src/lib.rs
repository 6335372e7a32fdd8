//! The shared library a zygote interpreter loads (with `ctypes`) to turn a fresh fork of
//! itself into a run's launcher. All the work is in [`sandbox::init::fork_entry`]; this only
//! gives it a C name.

use std::ffi::c_int;

/// Called by the zygote's fork with the three descriptors the daemon sent for the run.
/// Returns 0 only in the run's program, confined, or 1 in the program of a sandbox built
/// ahead of its run (which then calls `sandbox_zygote_claim`); every other process ends
/// inside.
#[no_mangle]
pub extern "C" fn sandbox_zygote_fork(control: c_int, stdout: c_int, stderr: c_int) -> c_int {
    sandbox::init::fork_entry(control, stdout, stderr)
}

/// Called by the program of a sandbox built ahead of its run, once `sandbox_zygote_fork`
/// returned 1 and the interpreter is ready: waits for the run's claim and confines the
/// program. Returns 0 in the run's program, confined.
#[no_mangle]
pub extern "C" fn sandbox_zygote_claim() -> c_int {
    sandbox::init::take_claim()
}

/// Called once by the zygote before its first fork; 0 when ready.
#[no_mangle]
pub extern "C" fn sandbox_zygote_prepare() -> c_int {
    sandbox::init::prepare_forks()
}
