//! The same build script as relata's (see there): server tests are ignored, with the reason,
//! when their server cannot be reached.

include!("../relata/build.rs");
