//! Users: the properties the emulator knows on `microsoft.graph.user`, how one user is written
//! as JSON and changed by a patch, and the synthetic, deterministic users a directory starts
//! with. Those are computed from their index on demand (so 100,000 users cost no memory; only
//! changed ones are stored, by `store`); a fixed set of hard cases sits at the low indices so
//! that any directory of 20 or more users holds all of them:
//!
//! | index | displayName | userPrincipalName (local part) | what it tests |
//! |---|---|---|---|
//! | 0 | `Zoë Ångström-Øre` | `zoe.angstrom-ore` | non-ASCII Latin |
//! | 1 | `山田 太郎` | `yamada.taro` | CJK |
//! | 2 | `Ferris 🦀 Crab` | `ferris` | emoji (astral plane) |
//! | 3 | `Smith, John` | `john.smith` | comma (CSV quoting) |
//! | 4 | `Dwayne "The Rock" Johnson` | `dwayne.johnson` | double quotes |
//! | 5 | `Line\nBreak` | `line.break` | embedded newline |
//! | 6 | `=HYPERLINK("x")` | `formula.equals` | CSV formula injection |
//! | 7 | `+Plus Start` | `formula.plus` | formula injection (`+`) |
//! | 8 | `-Minus Start` | `formula.minus` | formula injection (`-`) |
//! | 9 | `@At Start` | `formula.at` | formula injection (`@`) |
//! | 10 | `Null Fields` | `null.fields` | givenName, surname, jobTitle, mail, mobilePhone, officeLocation, preferredLanguage all `null` |
//! | 11 | `Alex Wilber (Fabrikam)` | `alex_fabrikam.com#EXT#` | guest UPN with `#EXT#` (`%23` in URLs) |
//! | 12 | `Siobhán O'Brien` | `o'brien` | apostrophe in the UPN (`''` in `$filter`) |
//! | 13 | `Two Phones` | `two.phones` | two businessPhones |
//! | 14.. | `User 0014` | `user0014` | regular users |
//!
//! Regular users have an empty `businessPhones`, except every index divisible by 50, which has
//! two numbers. ids are `00000000-0000-4000-8000-{index:012x}`. Listing order is index order;
//! users added later come after them, in the order they were added.

use super::store::Record;
use serde_json::Value;
use std::borrow::Cow;

/// The properties the emulator knows on `microsoft.graph.user`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prop {
    BusinessPhones,
    DisplayName,
    GivenName,
    Id,
    JobTitle,
    Mail,
    MobilePhone,
    OfficeLocation,
    PreferredLanguage,
    Surname,
    UserPrincipalName,
    AccountEnabled,
    CompanyName,
    CreatedDateTime,
    Department,
    EmployeeId,
    UsageLocation,
    UserType,
}

impl Prop {
    /// What Graph returns without `$select`.
    pub(crate) const DEFAULT: [Prop; 11] = [
        Prop::BusinessPhones,
        Prop::DisplayName,
        Prop::GivenName,
        Prop::JobTitle,
        Prop::Mail,
        Prop::MobilePhone,
        Prop::OfficeLocation,
        Prop::PreferredLanguage,
        Prop::Surname,
        Prop::UserPrincipalName,
        Prop::Id,
    ];
    pub(crate) const ALL: [Prop; 18] = [
        Prop::BusinessPhones,
        Prop::DisplayName,
        Prop::GivenName,
        Prop::Id,
        Prop::JobTitle,
        Prop::Mail,
        Prop::MobilePhone,
        Prop::OfficeLocation,
        Prop::PreferredLanguage,
        Prop::Surname,
        Prop::UserPrincipalName,
        Prop::AccountEnabled,
        Prop::CompanyName,
        Prop::CreatedDateTime,
        Prop::Department,
        Prop::EmployeeId,
        Prop::UsageLocation,
        Prop::UserType,
    ];

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Prop::BusinessPhones => "businessPhones",
            Prop::DisplayName => "displayName",
            Prop::GivenName => "givenName",
            Prop::Id => "id",
            Prop::JobTitle => "jobTitle",
            Prop::Mail => "mail",
            Prop::MobilePhone => "mobilePhone",
            Prop::OfficeLocation => "officeLocation",
            Prop::PreferredLanguage => "preferredLanguage",
            Prop::Surname => "surname",
            Prop::UserPrincipalName => "userPrincipalName",
            Prop::AccountEnabled => "accountEnabled",
            Prop::CompanyName => "companyName",
            Prop::CreatedDateTime => "createdDateTime",
            Prop::Department => "department",
            Prop::EmployeeId => "employeeId",
            Prop::UsageLocation => "usageLocation",
            Prop::UserType => "userType",
        }
    }

    /// Property names are case-insensitive in Graph's query options.
    pub(crate) fn parse(s: &str) -> Option<Prop> {
        Prop::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }

    /// Its index in [`Prop::ALL`] (the declaration order), which is its bit in a change mask.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// Whether `$filter` can compare this property with a string literal.
    pub(crate) fn is_string(self) -> bool {
        !matches!(self, Prop::BusinessPhones | Prop::AccountEnabled)
    }
}

/// One user, borrowed for the hard cases and owned for computed regular users.
#[derive(Clone, Debug)]
pub(crate) struct User<'a> {
    pub id: String,
    pub display_name: Option<Cow<'a, str>>,
    pub given_name: Option<Cow<'a, str>>,
    pub surname: Option<Cow<'a, str>>,
    pub upn: String,
    pub mail: Option<String>,
    pub job_title: Option<Cow<'a, str>>,
    pub mobile_phone: Option<Cow<'a, str>>,
    pub office_location: Option<Cow<'a, str>>,
    pub preferred_language: Option<Cow<'a, str>>,
    pub business_phones: Vec<Cow<'a, str>>,
    pub account_enabled: bool,
    pub company_name: Option<Cow<'a, str>>,
    pub created: String,
    pub department: Option<Cow<'a, str>>,
    pub employee_id: Option<String>,
    pub usage_location: Option<Cow<'a, str>>,
    pub user_type: Cow<'a, str>,
}

impl User<'_> {
    /// The string value of a string property (`None` when null or not a string property).
    pub(crate) fn str_prop(&self, p: Prop) -> Option<&str> {
        match p {
            Prop::DisplayName => self.display_name.as_deref(),
            Prop::GivenName => self.given_name.as_deref(),
            Prop::Id => Some(&self.id),
            Prop::JobTitle => self.job_title.as_deref(),
            Prop::Mail => self.mail.as_deref(),
            Prop::MobilePhone => self.mobile_phone.as_deref(),
            Prop::OfficeLocation => self.office_location.as_deref(),
            Prop::PreferredLanguage => self.preferred_language.as_deref(),
            Prop::Surname => self.surname.as_deref(),
            Prop::UserPrincipalName => Some(&self.upn),
            Prop::CompanyName => self.company_name.as_deref(),
            Prop::CreatedDateTime => Some(&self.created),
            Prop::Department => self.department.as_deref(),
            Prop::EmployeeId => self.employee_id.as_deref(),
            Prop::UsageLocation => self.usage_location.as_deref(),
            Prop::UserType => Some(&self.user_type),
            Prop::BusinessPhones | Prop::AccountEnabled => None,
        }
    }

    /// Appends this user as a JSON object with exactly `props`, in that order.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>, props: &[Prop]) {
        out.push(b'{');
        for (i, p) in props.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(p.name().as_bytes());
            out.extend_from_slice(b"\":");
            self.write_value(*p, out);
        }
        out.push(b'}');
    }

    /// Appends the JSON value of one property.
    fn write_value(&self, p: Prop, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail, so the results are ignored.
        match p {
            Prop::BusinessPhones => {
                let _ = serde_json::to_writer(&mut *out, &self.business_phones);
            }
            Prop::AccountEnabled => out.extend_from_slice(if self.account_enabled {
                b"true"
            } else {
                b"false"
            }),
            _ => {
                let _ = serde_json::to_writer(&mut *out, &self.str_prop(p));
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn to_value(&self, props: &[Prop]) -> Value {
        let mut buf = Vec::with_capacity(512);
        self.write_json(&mut buf, props);
        serde_json::from_slice(&buf).unwrap_or(Value::Null)
    }
}

/// A hard case: (displayName, givenName, surname, upn local part, mail?, phones, guest)
struct Special {
    display: &'static str,
    given: Option<&'static str>,
    surname: Option<&'static str>,
    local: &'static str,
    has_details: bool,
    phones: &'static [&'static str],
    guest_mail: Option<&'static str>,
}

const SPECIALS: &[Special] = &[
    Special::new(
        "Zoë Ångström-Øre",
        "Zoë",
        "Ångström-Øre",
        "zoe.angstrom-ore",
    ),
    Special::new("山田 太郎", "太郎", "山田", "yamada.taro"),
    Special::new("Ferris 🦀 Crab", "Ferris", "Crab", "ferris"),
    Special::new("Smith, John", "John", "Smith", "john.smith"),
    Special::new(
        "Dwayne \"The Rock\" Johnson",
        "Dwayne",
        "Johnson",
        "dwayne.johnson",
    ),
    Special::new("Line\nBreak", "Line", "Break", "line.break"),
    Special::new("=HYPERLINK(\"x\")", "=1+1", "Formula", "formula.equals"),
    Special::new("+Plus Start", "+Plus", "Start", "formula.plus"),
    Special::new("-Minus Start", "-Minus", "Start", "formula.minus"),
    Special::new("@At Start", "@At", "Start", "formula.at"),
    Special {
        display: "Null Fields",
        given: None,
        surname: None,
        local: "null.fields",
        has_details: false,
        phones: &[],
        guest_mail: None,
    },
    Special {
        display: "Alex Wilber (Fabrikam)",
        given: Some("Alex"),
        surname: Some("Wilber"),
        local: "alex_fabrikam.com#EXT#",
        has_details: true,
        phones: &[],
        guest_mail: Some("alex@fabrikam.com"),
    },
    Special::new("Siobhán O'Brien", "Siobhán", "O'Brien", "o'brien"),
    Special {
        display: "Two Phones",
        given: Some("Two"),
        surname: Some("Phones"),
        local: "two.phones",
        has_details: true,
        phones: &["+1 425 555 0100", "+1 425 555 0101"],
        guest_mail: None,
    },
];

impl Special {
    const fn new(
        display: &'static str,
        given: &'static str,
        surname: &'static str,
        local: &'static str,
    ) -> Special {
        Special {
            display,
            given: Some(given),
            surname: Some(surname),
            local,
            has_details: true,
            phones: &[],
            guest_mail: None,
        }
    }
}

const JOBS: &[&str] = &[
    "Engineer",
    "Designer",
    "Product Manager",
    "Accountant",
    "Sales Representative",
    "Support Specialist",
    "Researcher",
];
const OFFICES: &[&str] = &["Seattle", "Dublin", "Singapore", "Berlin", "São Paulo"];
const DEPARTMENTS: &[&str] = &["Engineering", "Finance", "Sales", "Support", "Research"];

/// Synthetic users' ids: this and the index as 12 hex digits.
const ID_PREFIX: &str = "00000000-0000-4000-8000-";

/// The names of [`Prop::ALL`], in that order.
const NAMES: [&str; 18] = {
    let mut names = [""; 18];
    let mut i = 0;
    while i < names.len() {
        names[i] = Prop::ALL[i].name();
        i += 1;
    }
    names
};

/// [`Prop::DEFAULT`] as indices.
const DEFAULT_INDICES: [usize; 11] = {
    let mut out = [0; 11];
    let mut i = 0;
    while i < out.len() {
        out[i] = Prop::DEFAULT[i].index();
        i += 1;
    }
    out
};

/// The synthetic user at `index`.
pub(crate) fn base_user(domain: &str, index: usize) -> User<'static> {
    let created = crate::util::format_time(1_577_836_800 + index as i64 * 3600, 0, 0, true);
    if let Some(s) = SPECIALS.get(index) {
        let upn = format!("{}@{domain}", s.local);
        let detail = |v: &'static str| s.has_details.then_some(Cow::Borrowed(v));
        return User {
            id: format!("{ID_PREFIX}{index:012x}"),
            display_name: Some(Cow::Borrowed(s.display)),
            given_name: s.given.map(Cow::Borrowed),
            surname: s.surname.map(Cow::Borrowed),
            mail: match (s.has_details, s.guest_mail) {
                (false, _) => None,
                (true, Some(m)) => Some(m.to_owned()),
                (true, None) => Some(upn.clone()),
            },
            upn,
            job_title: detail(JOBS[index % JOBS.len()]),
            mobile_phone: detail("+1 206 555 0199"),
            office_location: detail(OFFICES[index % OFFICES.len()]),
            preferred_language: detail("en-US"),
            business_phones: s.phones.iter().map(|p| Cow::Borrowed(*p)).collect(),
            account_enabled: true,
            company_name: detail("Contoso"),
            created,
            department: detail(DEPARTMENTS[index % DEPARTMENTS.len()]),
            employee_id: s.has_details.then(|| format!("E{index:06}")),
            usage_location: detail("US"),
            user_type: Cow::Borrowed(if s.guest_mail.is_some() {
                "Guest"
            } else {
                "Member"
            }),
        };
    }
    let upn = format!("user{index:04}@{domain}");
    User {
        id: format!("{ID_PREFIX}{index:012x}"),
        display_name: Some(Cow::Owned(format!("User {index:04}"))),
        given_name: Some(Cow::Borrowed("User")),
        surname: Some(Cow::Owned(format!("{index:04}"))),
        mail: Some(upn.clone()),
        upn,
        job_title: Some(Cow::Borrowed(JOBS[index % JOBS.len()])),
        mobile_phone: index
            .is_multiple_of(3)
            .then(|| Cow::Owned(format!("+1 206 555 {:04}", index % 10_000))),
        office_location: Some(Cow::Borrowed(OFFICES[index % OFFICES.len()])),
        preferred_language: Some(Cow::Borrowed("en-US")),
        business_phones: if index.is_multiple_of(50) {
            vec![
                Cow::Owned(format!("+1 425 555 {:04}", index % 10_000)),
                Cow::Borrowed("+1 425 555 0000"),
            ]
        } else {
            Vec::new()
        },
        account_enabled: !index.is_multiple_of(17),
        company_name: Some(Cow::Borrowed("Contoso")),
        created,
        department: Some(Cow::Borrowed(DEPARTMENTS[index % DEPARTMENTS.len()])),
        employee_id: Some(format!("E{index:06}")),
        usage_location: Some(Cow::Borrowed("US")),
        user_type: Cow::Borrowed("Member"),
    }
}

/// The synthetic user (among the first `len`) whose userPrincipalName, as computed, is `lower`
/// (already lowercased).
pub(crate) fn base_upn_index(domain: &str, len: usize, lower: &str) -> Option<usize> {
    let (local, upn_domain) = lower.rsplit_once('@')?;
    if upn_domain != domain.to_lowercase() {
        return None;
    }
    if let Some(i) = SPECIALS
        .iter()
        .position(|s| s.local.to_lowercase() == local)
    {
        return (i < len).then_some(i);
    }
    let digits = local.strip_prefix("user")?;
    let i: usize = digits.parse().ok()?;
    (i >= SPECIALS.len() && i < len && format!("{i:04}") == digits).then_some(i)
}

impl Record for User<'static> {
    const PROPS: &'static [&'static str] = &NAMES;
    const DEFAULT: &'static [usize] = &DEFAULT_INDICES;
    const ID: usize = Prop::Id.index();
    const READ_ONLY: &'static [usize] = &[Prop::CreatedDateTime.index()];
    const BASE_ID_PREFIX: &'static str = ID_PREFIX;
    const TYPE: &'static str = "microsoft.graph.user";

    fn base(domain: &str, index: usize) -> Self {
        base_user(domain, index)
    }

    fn new_added(domain: &str, id: String, n: usize) -> Self {
        let upn = format!("new.user{n}@{domain}");
        let (secs, _) = crate::util::now_parts();
        User {
            id,
            display_name: Some(Cow::Owned(format!("New User {n}"))),
            given_name: None,
            surname: None,
            upn,
            mail: None,
            job_title: None,
            mobile_phone: None,
            office_location: None,
            preferred_language: None,
            business_phones: Vec::new(),
            account_enabled: true,
            company_name: None,
            created: crate::util::format_time(secs, 0, 0, true),
            department: None,
            employee_id: None,
            usage_location: None,
            user_type: Cow::Borrowed("Member"),
        }
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn write_prop(&self, prop: usize, out: &mut Vec<u8>) {
        self.write_value(Prop::ALL[prop], out);
    }

    fn set_prop(&mut self, prop: usize, value: &Value) -> Result<(), String> {
        let p = Prop::ALL[prop];
        let name = p.name();
        let text = || match value {
            Value::Null => Ok(None),
            Value::String(v) => Ok(Some(v.clone())),
            _ => Err(format!("Property '{name}' takes a string or null.")),
        };
        let required = || match value {
            Value::String(v) if !v.trim().is_empty() => Ok(v.clone()),
            _ => Err(format!("Property '{name}' takes a non-empty string.")),
        };
        let cow = |v: Option<String>| v.map(Cow::Owned);
        match p {
            Prop::BusinessPhones => {
                let phones = value
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|v| v.as_str().map(|s| Cow::Owned(s.to_owned())))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| format!("Property '{name}' takes an array of strings."))?;
                self.business_phones = phones;
            }
            Prop::AccountEnabled => {
                self.account_enabled = value
                    .as_bool()
                    .ok_or_else(|| format!("Property '{name}' takes true or false."))?;
            }
            Prop::DisplayName => self.display_name = Some(Cow::Owned(required()?)),
            Prop::UserPrincipalName => {
                let upn = required()?;
                match upn.split_once('@') {
                    Some((local, domain))
                        if !local.is_empty() && !domain.is_empty() && !domain.contains('@') => {}
                    _ => {
                        return Err(format!(
                            "Property '{name}' must be local@domain, not '{upn}'."
                        ));
                    }
                }
                self.upn = upn;
            }
            Prop::UserType => match value.as_str() {
                Some(t @ ("Member" | "Guest")) => self.user_type = Cow::Owned(t.to_owned()),
                _ => return Err(format!("Property '{name}' is 'Member' or 'Guest'.")),
            },
            Prop::GivenName => self.given_name = cow(text()?),
            Prop::Surname => self.surname = cow(text()?),
            Prop::Mail => self.mail = text()?,
            Prop::JobTitle => self.job_title = cow(text()?),
            Prop::MobilePhone => self.mobile_phone = cow(text()?),
            Prop::OfficeLocation => self.office_location = cow(text()?),
            Prop::PreferredLanguage => self.preferred_language = cow(text()?),
            Prop::CompanyName => self.company_name = cow(text()?),
            Prop::Department => self.department = cow(text()?),
            Prop::EmployeeId => self.employee_id = text()?,
            Prop::UsageLocation => self.usage_location = cow(text()?),
            Prop::Id | Prop::CreatedDateTime => {
                return Err(format!("Property '{name}' is read-only."));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Directory;
    use super::*;

    #[test]
    fn twenty_users_hold_every_hard_case() {
        let d = Directory::new(20, 0, "contoso.onmicrosoft.com");
        let d = d.read();
        let names: Vec<String> = (0..20)
            .filter_map(|i| d.users.get(i).unwrap().display_name.clone())
            .map(|n| n.into_owned())
            .collect();
        for needle in [
            "Zoë",
            "山田",
            "🦀",
            "Smith, John",
            "\"The Rock\"",
            "\n",
            "=HYPERLINK",
        ] {
            assert!(names.iter().any(|n| n.contains(needle)), "{needle}");
        }
        assert_eq!(
            d.find_user("ALEX_fabrikam.com#ext#@Contoso.onmicrosoft.com"),
            Some(11)
        );
        assert_eq!(d.find_user("o'brien@contoso.onmicrosoft.com"), Some(12));
        assert_eq!(d.find_user("user0019@contoso.onmicrosoft.com"), Some(19));
        assert_eq!(d.find_user("user019@contoso.onmicrosoft.com"), None);
        assert_eq!(d.find_user("user0020@contoso.onmicrosoft.com"), None);
        assert_eq!(
            d.find_user("00000000-0000-4000-8000-000000000013"),
            Some(19)
        );
        assert_eq!(d.find_user("00000000-0000-4000-8000-000000000014"), None);
    }

    #[test]
    fn default_properties_in_graph_shape() {
        let d = Directory::new(20, 0, "contoso.onmicrosoft.com");
        let d = d.read();
        let user = |i: usize| d.users.get(i).unwrap().into_owned();
        let v = user(10).to_value(&Prop::DEFAULT);
        let o = v.as_object().unwrap();
        assert_eq!(o.len(), 11);
        assert!(o["jobTitle"].is_null() && o["mail"].is_null() && o["surname"].is_null());
        assert_eq!(o["businessPhones"], serde_json::json!([]));
        let v = user(13).to_value(&[Prop::BusinessPhones]);
        assert_eq!(v["businessPhones"].as_array().unwrap().len(), 2);
        let v = user(5).to_value(&[Prop::DisplayName, Prop::AccountEnabled]);
        assert_eq!(v["displayName"], "Line\nBreak");
        assert_eq!(v["accountEnabled"], true);
    }
}
