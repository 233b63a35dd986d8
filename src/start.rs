//! Start-up, from the constructor every process with kashim runs: read the configuration, record where every hooked function's next definition is looked up (so no hook has to walk the
//! loaded objects later), apply KASHIM_CHILDREN=0, and take on the connections the process
//! inherited already connected. A hook that runs before this (another library's constructor)
//! takes the safe path: the configuration and its own next pointer are resolved on first use.

#![cfg(not(test))]

use crate::act::{children, inherited};
use crate::state::config::{active_config, config};
use crate::sys::guard::guarded_at_start;

// Every function on the start-up path is in .text.startup.kashim: the release build places them
// together (scripts/lib/release-layout.ld), one page fault instead of three in every process.
#[link_section = ".text.startup.kashim"]
extern "C" fn constructor() {
    guarded_at_start(|| {
        if let Some(config) = config() {
            children::leave_children_alone(config);
        }
        crate::hooks::prepare();
        if let Some(config) = active_config() {
            inherited::adopt_at_start(config);
        }
    });
}

#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn() = constructor;
