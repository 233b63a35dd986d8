//! What kashim knows: the configuration published at start (`config`), one byte per descriptor
//! (`fd_table`), and the threads whose descriptor changes must not be recorded (`thread_marks`).

pub mod config;
pub mod fd_table;
pub mod thread_marks;
