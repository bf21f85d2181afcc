//! `graphd secret set|status|delete`: the client secret in the OS keyring.

use std::io::{self, IsTerminal};

use crate::cli::SecretCommand;
use crate::config::Config;
use crate::credential::{self, KeyringBackend};
use crate::error::{Error, Outcome};
use crate::output;

pub fn run(config: &Config, cmd: &SecretCommand) -> Result<Outcome, Error> {
    config.require_app()?;
    let slot = &config.keyring;
    let backend = slot.backend.name();
    match cmd {
        SecretCommand::Set => {
            let terminal = io::stdin().is_terminal();
            let secret = credential::read_new_secret(&mut io::stdin().lock(), terminal)?;
            slot.set(&secret)?;
            if slot.backend == KeyringBackend::Keyutils {
                tracing::warn!(
                    target: "graphd",
                    "the kernel keyring (keyutils) is memory-only: this secret is gone at reboot"
                );
            }
            output::message(&format!(
                "stored the client secret in the {backend} keyring for {}",
                slot.account
            ))?;
        }
        SecretCommand::Status => match slot.get()? {
            Some(_) => output::message(&format!(
                "a client secret is stored in the {backend} keyring for {}",
                slot.account
            ))?,
            None => {
                output::message(&format!(
                    "no client secret is stored in the {backend} keyring for {}",
                    slot.account
                ))?;
                return Ok(Outcome::Absent);
            }
        },
        SecretCommand::Delete => {
            if slot.delete()? {
                output::message(&format!(
                    "deleted the client secret from the {backend} keyring for {}",
                    slot.account
                ))?;
            } else {
                output::message(&format!(
                    "nothing to delete: no client secret is stored in the {backend} keyring for {}",
                    slot.account
                ))?;
            }
        }
    }
    Ok(Outcome::Success)
}
