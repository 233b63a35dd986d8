//! Which descriptor numbers a call releases: pure, unit-tested.

use libc::{c_int, c_uint};

/// close_range(2) flags.
const CLOSE_RANGE_UNSHARE: c_int = 1 << 1;
const CLOSE_RANGE_CLOEXEC: c_int = 1 << 2;

/// What close_range(first, last, flags) does to the process's descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseRangeEffect {
    /// The inclusive range released, if any (none for an invalid call or CLOSE_RANGE_CLOEXEC,
    /// which only marks descriptors close-on-exec).
    pub released: Option<(u32, u32)>,
    /// CLOSE_RANGE_UNSHARE: the thread first gets a private copy of the table, and the range is
    /// closed in that copy only.
    pub unshares: bool,
}

pub fn close_range_effect(first: c_uint, last: c_uint, flags: c_int) -> CloseRangeEffect {
    CloseRangeEffect {
        released: (first <= last && flags & CLOSE_RANGE_CLOEXEC == 0).then_some((first, last)),
        unshares: flags & CLOSE_RANGE_UNSHARE != 0,
    }
}

/// The range closefrom(lowest) releases: every descriptor from `lowest` on.
pub fn released_from(lowest: c_int) -> (u32, u32) {
    (lowest.max(0) as u32, u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_range_releases_its_inclusive_range() {
        assert_eq!(close_range_effect(3, 9, 0).released, Some((3, 9)));
        assert_eq!(close_range_effect(5, 5, 0).released, Some((5, 5)));
        assert!(!close_range_effect(3, 9, 0).unshares);
    }

    #[test]
    fn unshare_closes_in_a_private_table() {
        let effect = close_range_effect(3, u32::MAX, CLOSE_RANGE_UNSHARE);
        assert!(effect.unshares);
        assert_eq!(effect.released, Some((3, u32::MAX)));
    }

    #[test]
    fn cloexec_or_an_invalid_range_releases_nothing() {
        assert_eq!(close_range_effect(3, 9, CLOSE_RANGE_CLOEXEC).released, None);
        assert_eq!(close_range_effect(9, 3, 0).released, None);
    }

    #[test]
    fn closefrom_releases_everything_above() {
        assert_eq!(released_from(3), (3, u32::MAX));
        assert_eq!(released_from(-1), (0, u32::MAX));
    }
}
