//! Gives up every privilege the program could use: capabilities (all sets, including the
//! bounding and ambient sets) and the ability to regain any through setuid binaries.

use caps::CapSet;
use nix::sys::prctl;

use super::error::{SetupResult, Stage};

pub fn drop_all() -> SetupResult<()> {
    // The bounding set can only be lowered while CAP_SETPCAP is still effective.
    caps::clear(None, CapSet::Bounding).stage(|| "drop bounding capabilities".into())?;
    caps::clear(None, CapSet::Ambient).stage(|| "clear ambient capabilities".into())?;
    for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        caps::clear(None, set).stage(|| format!("clear {set:?} capabilities"))?;
    }
    prctl::set_no_new_privs().stage(|| "set no_new_privs".into())
}
