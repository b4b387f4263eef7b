//! Versions are stored once per entity and referred to by a small symbol,
//! so a million targets on `v1`/`v2` hold two strings, not two million.

use std::collections::HashMap;

/// An interned string of one entity's [`Interner`]. `Sym::EMPTY` is `""`,
/// which means "no version".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Sym(u32);

impl Sym {
    pub(crate) const EMPTY: Sym = Sym(0);

    pub(crate) fn is_empty(self) -> bool {
        self == Sym::EMPTY
    }

    /// Its position in its interner.
    pub(crate) fn index(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Interner {
    strings: Vec<Box<str>>,
    index: HashMap<Box<str>, Sym, foldhash::fast::RandomState>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut index = HashMap::default();
        index.insert(Box::from(""), Sym::EMPTY);
        Interner { strings: vec![Box::from("")], index }
    }
}

impl Interner {
    /// A copy with the same symbols (built by interning again: no code of
    /// its own for copying a hash table).
    pub(crate) fn copy(&self) -> Interner {
        let mut copy = Interner::default();
        for s in self.strings.iter().skip(1) {
            copy.intern(s);
        }
        copy
    }

    /// The symbol of `s`, adding it if it is new.
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.index.get(s) {
            return sym;
        }
        // An entity would need four billion distinct versions to run out;
        // should it ever, the newest ones share the last symbol rather than
        // panic.
        let sym = Sym(u32::try_from(self.strings.len()).unwrap_or(u32::MAX));
        self.strings.push(Box::from(s));
        self.index.insert(Box::from(s), sym);
        sym
    }

    /// The symbol of `s`, if it was ever interned.
    pub(crate) fn lookup(&self, s: &str) -> Option<Sym> {
        self.index.get(s).copied()
    }

    /// How many strings it holds (`""` counts).
    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }

    pub(crate) fn resolve(&self, sym: Sym) -> &str {
        usize::try_from(sym.0).ok().and_then(|i| self.strings.get(i)).map_or("", |s| s)
    }
}
