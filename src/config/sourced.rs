//! A setting's value with where it came from (`Sourced`, `Origin`), and how a clap value
//! becomes one: a flag, its env fallback, or clap's default (which is no layer at all).

use std::fmt;
use std::path::PathBuf;

use crate::cli::{ArgOrigin, GlobalArgs};
use crate::cloud::Cloud;
use crate::names::Name;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(&'static str),
    Env(&'static str),
    Params {
        path: PathBuf,
        key: &'static str,
    },
    Profile {
        name: String,
        key: &'static str,
    },
    /// Derived from the cloud, which came from `.1`.
    Cloud(Cloud, Box<Origin>),
    /// `default_profile` in the profile file, or a profile named `default`.
    DefaultProfile,
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::Params { path, key } => write!(f, "parameters file {} ({key})", path.display()),
            Origin::Profile { name, key } => write!(f, "profile {name} ({key})"),
            Origin::Cloud(c, from) => write!(f, "cloud {} ({from})", c.name()),
            Origin::DefaultProfile => f.write_str("default_profile, or the profile named default"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Sourced<T> {
    pub fn new(value: T, origin: Origin) -> Self {
        Sourced { value, origin }
    }

    pub(super) fn default(value: T) -> Self {
        Sourced::new(value, Origin::Default)
    }
}

/// A clap value with its origin, or `None` when absent or only clap's default.
pub(super) fn from_cli<T: Clone>(
    args: &GlobalArgs,
    name: Name,
    value: Option<&T>,
) -> Option<Sourced<T>> {
    let value = value?.clone();
    match args.origin(name.id) {
        ArgOrigin::Default => None,
        ArgOrigin::Env => Some(Sourced::new(value, Origin::Env(name.env))),
        ArgOrigin::CommandLine => Some(Sourced::new(value, Origin::Flag(name.flag))),
    }
}

/// A clap value that always has one (a default included), with its origin.
pub(super) fn with_default<T: Clone>(args: &GlobalArgs, name: Name, value: &T) -> Sourced<T> {
    from_cli(args, name, Some(value)).unwrap_or_else(|| Sourced::default(value.clone()))
}

/// A boolean flag: `true` from the flag or its clap env, else `None`.
pub(super) fn switch(args: &GlobalArgs, name: Name, on: bool) -> Option<Sourced<bool>> {
    on.then(|| from_cli(args, name, Some(&true)))?
}

/// Splits a clap value into the flag layer and the env layer.
pub(super) type Split<T> = (Option<Sourced<T>>, Option<Sourced<T>>);
pub(super) fn split<T>(o: Option<Sourced<T>>) -> Split<T> {
    match o {
        Some(s) if matches!(s.origin, Origin::Env(_)) => (None, Some(s)),
        other => (other, None),
    }
}
