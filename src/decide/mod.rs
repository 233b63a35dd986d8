//! The decisions: plain functions of their inputs that return what to do, unit-tested without
//! LD_PRELOAD. Nothing here makes a system call.

pub mod deepbind;
pub mod descriptors;
pub mod inherited;
pub mod mixed;
pub mod policy;
pub mod scope;
