//! Integration tests of the dump reader.

mod fuzz;
