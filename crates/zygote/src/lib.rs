//! The shared library a zygote interpreter loads (with `ctypes`) to turn a fresh fork of
//! itself into a run's launcher. All the work is in [`sandbox::init::fork_entry`]; this only
//! gives it a C name.

use std::ffi::c_int;

/// Called by the zygote's fork with the three descriptors the daemon sent for the run.
/// Returns 0 only in the run's program, confined; every other process ends inside.
#[no_mangle]
pub extern "C" fn sandbox_zygote_fork(control: c_int, stdout: c_int, stderr: c_int) -> c_int {
    sandbox::init::fork_entry(control, stdout, stderr)
}

/// Called once by the zygote before its first fork; 0 when ready.
#[no_mangle]
pub extern "C" fn sandbox_zygote_prepare() -> c_int {
    sandbox::init::prepare_forks()
}
