//! `serve-gpio`: a web page, a JSON API and a plain-TCP line protocol that show and switch
//! the GPIO pins given with `--pin`. The app ([`app`]) decides every answer without I/O;
//! the networking around it runs on the one event loop.

pub mod app;
