//! One collection of directory objects (users, groups) that can change, and its change journal.
//!
//! Objects live in *slots*: the synthetic objects the directory starts with are slots
//! `0..base_len`, computed from their index on demand, and objects added later are appended
//! after them. A store keeps only what differs from that: the changed objects themselves, the
//! added ones, and the slots that are no longer present (soft- or hard-deleted). So a directory of
//! 100,000 users with 1,000 changes holds 1,000 objects, and listing order (slot order) is stable.
//!
//! Every mutation appends an [`Entry`] to the journal with the directory-wide sequence number the
//! caller gives it; [`Store::changes_since`] folds the entries after a point into one [`Change`]
//! per object, which is what a delta round returns. This module knows nothing of HTTP or tokens.

use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// What a collection's objects must offer the store and the delta rounds.
pub(crate) trait Record: Clone + Send + Sync + 'static {
    /// Property names in their canonical order: a property's index is its bit in a change mask.
    const PROPS: &'static [&'static str];
    /// What Graph returns without `$select` (indices into `PROPS`), in that order.
    const DEFAULT: &'static [usize];
    /// The index of `id` in `PROPS`.
    const ID: usize;
    /// Properties a patch may not set (indices into `PROPS`).
    const READ_ONLY: &'static [usize];
    /// The ids of the synthetic objects are this prefix and the index as 12 lowercase hex digits.
    const BASE_ID_PREFIX: &'static str;
    /// The OData type name, for messages: `microsoft.graph.user`.
    const TYPE: &'static str;

    /// The synthetic object at `index`.
    fn base(domain: &str, index: usize) -> Self;
    /// A new object with the server-assigned properties (`id`, creation time) set and defaults
    /// for anything a caller may leave out; `n` is a number unique to it within the collection.
    fn new_added(domain: &str, id: String, n: usize) -> Self;
    fn id(&self) -> &str;
    /// Appends the JSON value of property `prop`.
    fn write_prop(&self, prop: usize, out: &mut Vec<u8>);
    /// Sets property `prop` (never `id` or a read-only one) from JSON; `Err` says why not.
    fn set_prop(&mut self, prop: usize, value: &Value) -> Result<(), String>;

    /// Appends this object as a JSON object with exactly `props`, in that order.
    fn write_json(&self, out: &mut Vec<u8>, props: &[usize]) {
        out.push(b'{');
        for (i, p) in props.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(Self::PROPS[*p].as_bytes());
            out.extend_from_slice(b"\":");
            self.write_prop(*p, out);
        }
        out.push(b'}');
    }
}

/// The index of a property name (case-insensitive, as Graph's query options are).
pub(crate) fn prop_index<R: Record>(name: &str) -> Option<usize> {
    R::PROPS.iter().position(|p| p.eq_ignore_ascii_case(name))
}

/// A change mask with every property in `props`.
pub(crate) fn mask_of(props: &[usize]) -> u64 {
    props.iter().fold(0, |m, p| m | (1 << p))
}

/// Where an object stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Present,
    /// Deleted, but restorable (Entra's deleted items): delta reports `"reason": "changed"`.
    SoftDeleted,
    /// Gone for good: delta reports `"reason": "deleted"`.
    HardDeleted,
}

/// What a journal entry did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Update,
    SoftDelete,
    HardDelete,
    Restore,
}

/// One mutation: its sequence number, the slot, and for updates the properties it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub seq: u64,
    pub slot: usize,
    pub op: Op,
    pub mask: u64,
}

/// Everything that happened to one object after some point, folded: what a delta round says
/// about it. Whether it is reported as removed is decided by its status when the page is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    pub slot: usize,
    /// Added or restored since: new to the client, so sent whole even with `return=minimal`.
    pub whole: bool,
    /// The properties updated since.
    pub mask: u64,
}

/// Why a mutation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No object with that id in the state the operation needs.
    NotFound,
    /// The patch or value is not acceptable: the message says why.
    Invalid(String),
}

pub(crate) struct Store<R: Record> {
    domain: String,
    base_len: usize,
    /// Changed synthetic objects, by slot.
    changed: HashMap<usize, R>,
    /// Objects added after start: slot `base_len + i`.
    added: Vec<R>,
    /// Slots of added objects by id.
    added_ids: HashMap<String, usize>,
    /// Slots that are not present.
    removed: HashMap<usize, Status>,
    /// In sequence order.
    journal: Vec<Entry>,
}

impl<R: Record> Store<R> {
    pub(crate) fn new(base_len: usize, domain: &str) -> Store<R> {
        Store {
            domain: domain.to_owned(),
            base_len,
            changed: HashMap::new(),
            added: Vec::new(),
            added_ids: HashMap::new(),
            removed: HashMap::new(),
            journal: Vec::new(),
        }
    }

    /// Slots ever used: the synthetic objects and every object added since.
    pub(crate) fn slots(&self) -> usize {
        self.base_len + self.added.len()
    }

    /// How many objects are present.
    pub(crate) fn present(&self) -> usize {
        self.slots() - self.removed.len()
    }

    pub(crate) fn status(&self, slot: usize) -> Status {
        self.removed.get(&slot).copied().unwrap_or(Status::Present)
    }

    /// The object in `slot` whatever its status (`slot < slots()`).
    pub(crate) fn any(&self, slot: usize) -> Cow<'_, R> {
        if let Some(i) = slot.checked_sub(self.base_len) {
            return Cow::Borrowed(&self.added[i]);
        }
        match self.changed.get(&slot) {
            Some(r) => Cow::Borrowed(r),
            None => Cow::Owned(R::base(&self.domain, slot)),
        }
    }

    /// The object in `slot` if it is present.
    pub(crate) fn get(&self, slot: usize) -> Option<Cow<'_, R>> {
        (slot < self.slots() && self.status(slot) == Status::Present).then(|| self.any(slot))
    }

    /// The slot of the object with this id, whatever its status.
    pub(crate) fn slot_of(&self, id: &str) -> Option<usize> {
        if let Some(hex) = id.strip_prefix(R::BASE_ID_PREFIX)
            && hex.len() == 12
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && let Ok(i) = usize::from_str_radix(hex, 16)
            && i < self.base_len
        {
            return Some(i);
        }
        self.added_ids.get(id).copied()
    }

    /// Appends a new object; returns its slot.
    pub(crate) fn add(&mut self, object: R, seq: u64) -> usize {
        let slot = self.slots();
        self.added_ids.insert(object.id().to_owned(), slot);
        self.added.push(object);
        self.journal.push(Entry {
            seq,
            slot,
            op: Op::Add,
            mask: mask_of(R::DEFAULT),
        });
        slot
    }

    /// Applies `patch` (property name → JSON value) to a present object. Returns the mask of the
    /// properties whose value changed; a patch that changes nothing is not journaled.
    pub(crate) fn update(
        &mut self,
        slot: usize,
        patch: &serde_json::Map<String, Value>,
        seq: u64,
    ) -> Result<u64, Refusal> {
        let mut object = self.get(slot).ok_or(Refusal::NotFound)?.into_owned();
        let mask = apply_patch(&mut object, patch)?;
        Ok(self.commit(slot, object, mask, seq))
    }

    /// Stores `object`, the new state of the present object in `slot` whose properties in
    /// `mask` changed, and journals the update (unless `mask` is empty). Returns `mask`.
    pub(crate) fn commit(&mut self, slot: usize, object: R, mask: u64, seq: u64) -> u64 {
        if mask == 0 {
            return 0;
        }
        match slot.checked_sub(self.base_len) {
            Some(i) => self.added[i] = object,
            None => {
                self.changed.insert(slot, object);
            }
        }
        self.journal.push(Entry {
            seq,
            slot,
            op: Op::Update,
            mask,
        });
        mask
    }

    /// Soft-deletes (restorably) or hard-deletes an object. A soft delete needs a present
    /// object; a hard delete takes a present or soft-deleted one.
    pub(crate) fn delete(&mut self, slot: usize, hard: bool, seq: u64) -> Result<(), Refusal> {
        match (self.status(slot), hard) {
            (Status::Present, _) | (Status::SoftDeleted, true) if slot < self.slots() => {}
            _ => return Err(Refusal::NotFound),
        }
        let (status, op) = if hard {
            (Status::HardDeleted, Op::HardDelete)
        } else {
            (Status::SoftDeleted, Op::SoftDelete)
        };
        self.removed.insert(slot, status);
        if hard {
            // Nothing can bring it back: its id is all a delta round still needs.
            self.changed.remove(&slot);
        }
        self.journal.push(Entry {
            seq,
            slot,
            op,
            mask: 0,
        });
        Ok(())
    }

    /// Brings a soft-deleted object back as it was.
    pub(crate) fn restore(&mut self, slot: usize, seq: u64) -> Result<(), Refusal> {
        if self.status(slot) != Status::SoftDeleted {
            return Err(Refusal::NotFound);
        }
        self.removed.remove(&slot);
        self.journal.push(Entry {
            seq,
            slot,
            op: Op::Restore,
            mask: 0,
        });
        Ok(())
    }

    /// One [`Change`] per object touched by an entry after `after`, in the order each was first
    /// touched. An object only updated is included when an update touched a property in
    /// `tracked` (Graph tracks the selected properties); added, restored and deleted objects
    /// always are. `only` restricts the result to those slots.
    pub(crate) fn changes_since(
        &self,
        after: u64,
        tracked: u64,
        only: Option<&[usize]>,
    ) -> Vec<Change> {
        let start = self.journal.partition_point(|e| e.seq <= after);
        let mut index: HashMap<usize, usize> = HashMap::new();
        let mut out: Vec<(Change, bool)> = Vec::new();
        for e in &self.journal[start..] {
            if only.is_some_and(|o| !o.contains(&e.slot)) {
                continue;
            }
            let i = *index.entry(e.slot).or_insert_with(|| {
                out.push((
                    Change {
                        slot: e.slot,
                        whole: false,
                        mask: 0,
                    },
                    false,
                ));
                out.len() - 1
            });
            let (change, status_changed) = &mut out[i];
            match e.op {
                Op::Add | Op::Restore => change.whole = true,
                Op::Update => change.mask |= e.mask,
                Op::SoftDelete | Op::HardDelete => *status_changed = true,
            }
        }
        out.into_iter()
            .filter(|(c, status_changed)| c.whole || *status_changed || c.mask & tracked != 0)
            .map(|(c, _)| c)
            .collect()
    }

    /// How many journal entries there are (for tests and sizing).
    #[cfg(test)]
    pub(crate) fn journal_len(&self) -> usize {
        self.journal.len()
    }
}

/// Applies every member of `patch` to `object`; returns the mask of the properties whose JSON
/// value changed. Unknown, read-only and mistyped properties are refused before any is set.
pub(crate) fn apply_patch<R: Record>(
    object: &mut R,
    patch: &serde_json::Map<String, Value>,
) -> Result<u64, Refusal> {
    let mut props = Vec::with_capacity(patch.len());
    for (name, value) in patch {
        let p = prop_index::<R>(name).ok_or_else(|| {
            Refusal::Invalid(format!(
                "Could not find a property named '{name}' on type '{}'.",
                R::TYPE
            ))
        })?;
        if p == R::ID || R::READ_ONLY.contains(&p) {
            return Err(Refusal::Invalid(format!(
                "Property '{}' is read-only.",
                R::PROPS[p]
            )));
        }
        props.push((p, value));
    }
    let mut next = object.clone();
    let mut mask = 0;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for (p, value) in props {
        before.clear();
        after.clear();
        next.write_prop(p, &mut before);
        next.set_prop(p, value).map_err(Refusal::Invalid)?;
        next.write_prop(p, &mut after);
        if before != after {
            mask |= 1 << p;
        }
    }
    *object = next;
    Ok(mask)
}
