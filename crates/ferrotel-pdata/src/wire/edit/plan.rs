//! What a keys-only edit did to a key sequence, replayed on the items with that sequence.

/// At most this many key sequences are memoized per request (an attributes processor's few
/// keys make few); items with others run the edit.
pub(super) const MAX_PLANS: usize = 16;

/// What a keys-only edit ([`KeySet::reads_keys_only`]) did to a list holding a sequence of
/// the set's keys, replayed on every other item with that sequence: the attributes it
/// replaced or deleted and the bytes it appended. A constant update of a key every span has
/// becomes a copy of the span with one attribute swapped.
pub(super) struct Plan {
    /// The field number of the attributes in the items it serves (data point types differ).
    pub(super) field: u32,
    /// The set indices of the keys, in list order.
    pub(super) keys: Box<[u8]>,
    /// `keys` as [`AttrLeaf::sequence`] packs them.
    pub(super) sequence: u64,
    /// Per parsed attribute: `None` keeps it, a range of `bytes` replaces it (an empty one
    /// deletes it).
    pub(super) slots: Box<[Option<(usize, usize)>]>,
    /// The range of `bytes` written after the item's other fields.
    pub(super) appended: (usize, usize),
    pub(super) bytes: Vec<u8>,
    /// The length of the replacements and the appended bytes together.
    pub(super) written: usize,
    /// Whether the plan changes anything (replaces a slot or appends).
    pub(super) changes: bool,
    /// The one slot it replaces (or deletes) and the replacement, when that is all it does.
    pub(super) single: Option<(usize, (usize, usize))>,
}
