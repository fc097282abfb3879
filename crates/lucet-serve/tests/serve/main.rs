//! lucet-serve end to end, in one test binary so that the large JavaScript
//! handler is compiled and signed once for every test.

mod apps;
mod basics;
mod harness;
mod hostile;
