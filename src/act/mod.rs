//! Carrying out what `decide` returns: kashim's own calls on sockets (`sockopt`), and what each
//! kind of event does with them — a connection made (`connection`), the program's own setsockopt
//! (`options`), descriptors released or copied (`descriptors`), connections inherited at start
//! (`inherited`), RTLD_DEEPBIND loads (`deepbind`), KASHIM_CHILDREN=0 (`children`).

pub mod children;
pub mod connection;
pub mod deepbind;
pub mod descriptors;
pub mod inherited;
pub mod options;
pub mod sockopt;

#[cfg(test)]
mod flow_tests;
