//! Groups: the few properties the emulator knows on `microsoft.graph.group` (`id`,
//! `displayName`, `description`, `mailNickname`) and the synthetic groups a directory starts
//! with, computed from their index: `All Company`, `Sales, EMEA` (a comma), `Engineering 🦀`
//! (an emoji), `No Description` (a null description), then `Group 0004`, `Group 0005`, ...
//! ids are `00000000-0000-4000-9000-{index:012x}`. They exist for `/groups/delta`, the second
//! delta collection; groups have no members here.

use super::store::Record;
use serde_json::Value;

/// Synthetic groups' ids: this and the index as 12 hex digits.
const ID_PREFIX: &str = "00000000-0000-4000-9000-";

/// The first groups: (displayName, description, mailNickname).
const SPECIALS: &[(&str, Option<&str>, &str)] = &[
    ("All Company", Some("Everyone at Contoso"), "allcompany"),
    (
        "Sales, EMEA",
        Some("Sales in Europe, the Middle East and Africa"),
        "sales-emea",
    ),
    ("Engineering 🦀", Some("Builds the product"), "engineering"),
    ("No Description", None, "nodescription"),
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Group {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub mail_nickname: String,
}

const ID: usize = 0;
const DISPLAY_NAME: usize = 1;
const DESCRIPTION: usize = 2;
const MAIL_NICKNAME: usize = 3;

impl Record for Group {
    const PROPS: &'static [&'static str] = &["id", "displayName", "description", "mailNickname"];
    const DEFAULT: &'static [usize] = &[ID, DISPLAY_NAME, DESCRIPTION, MAIL_NICKNAME];
    const ID: usize = ID;
    const READ_ONLY: &'static [usize] = &[];
    const BASE_ID_PREFIX: &'static str = ID_PREFIX;
    const TYPE: &'static str = "microsoft.graph.group";

    fn base(_domain: &str, index: usize) -> Self {
        let id = format!("{ID_PREFIX}{index:012x}");
        match SPECIALS.get(index) {
            Some((name, description, nickname)) => Group {
                id,
                display_name: (*name).to_owned(),
                description: description.map(str::to_owned),
                mail_nickname: (*nickname).to_owned(),
            },
            None => Group {
                id,
                display_name: format!("Group {index:04}"),
                description: Some(format!("Synthetic group number {index}")),
                mail_nickname: format!("group{index:04}"),
            },
        }
    }

    fn new_added(_domain: &str, id: String, n: usize) -> Self {
        Group {
            id,
            display_name: format!("New Group {n}"),
            description: None,
            mail_nickname: format!("new.group{n}"),
        }
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn write_prop(&self, prop: usize, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail, so the results are ignored.
        let _ = match prop {
            ID => serde_json::to_writer(&mut *out, &self.id),
            DISPLAY_NAME => serde_json::to_writer(&mut *out, &self.display_name),
            DESCRIPTION => serde_json::to_writer(&mut *out, &self.description),
            _ => serde_json::to_writer(&mut *out, &self.mail_nickname),
        };
    }

    fn set_prop(&mut self, prop: usize, value: &Value) -> Result<(), String> {
        let name = Self::PROPS[prop];
        let required = || match value {
            Value::String(v) if !v.trim().is_empty() => Ok(v.clone()),
            _ => Err(format!("Property '{name}' takes a non-empty string.")),
        };
        match prop {
            DISPLAY_NAME => self.display_name = required()?,
            MAIL_NICKNAME => self.mail_nickname = required()?,
            DESCRIPTION => {
                self.description = match value {
                    Value::Null => None,
                    Value::String(v) => Some(v.clone()),
                    _ => return Err(format!("Property '{name}' takes a string or null.")),
                }
            }
            _ => return Err(format!("Property '{name}' is read-only.")),
        }
        Ok(())
    }
}
