//! GPIO pins behind a small trait, with two backends: the Linux character device and
//! simulated pins in memory.
