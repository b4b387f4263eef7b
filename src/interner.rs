//! Values stored once per entity and referred to by a small symbol: a
//! million targets on `v1`/`v2` hold two strings, not two million (and the
//! same for their groups, messages and lists of tags).

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

/// An interned value of one entity's [`Interner`]. `Sym::EMPTY` is the
/// empty value (`""`, which as a version means "no version", or no tags).
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

/// Strings interned: versions, groups, messages.
pub(crate) type Interner = Table<str>;

/// Lists of tags interned.
pub(crate) type TagLists = Table<[String]>;

/// Lists of symbols interned (a target's tags and monitor verdict).
pub(crate) type SymLists = Table<[Sym]>;

/// Each value once, in the order first interned; a hash table of their
/// positions finds one (the value is not kept a second time as a key).
#[derive(Debug)]
pub(crate) struct Table<T: ?Sized> {
    /// The empty value first.
    values: Vec<Box<T>>,
    /// What an unknown symbol resolves to (the empty value).
    empty: Box<T>,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl<T: ?Sized + Hash + Eq> Clone for Table<T>
where
    Box<T>: Default + Clone + for<'a> From<&'a T>,
{
    fn clone(&self) -> Self {
        Table { values: self.values.clone(), empty: Box::default(), index: self.index.clone(), hasher: self.hasher.clone() }
    }
}

impl<T: ?Sized + Hash + Eq> Default for Table<T>
where
    Box<T>: Default + Clone + for<'a> From<&'a T>,
{
    fn default() -> Self {
        let mut interner =
            Table { values: Vec::new(), empty: Box::default(), index: HashTable::new(), hasher: foldhash::fast::RandomState::default() };
        interner.add(Box::default());
        interner
    }
}

impl<T: ?Sized + Hash + Eq> Table<T>
where
    Box<T>: Default + Clone + for<'a> From<&'a T>,
{
    /// A copy with the same symbols (built by interning again: no code of
    /// its own for copying a hash table).
    pub(crate) fn copy(&self) -> Table<T> {
        let mut copy = Table::default();
        for value in self.values.iter().skip(1) {
            copy.intern(value);
        }
        copy
    }

    fn add(&mut self, value: Box<T>) -> Sym {
        // An entity would need four billion distinct values to run out;
        // should it ever, the newest ones share the last symbol rather than
        // panic.
        let sym = Sym(u32::try_from(self.values.len()).unwrap_or(u32::MAX));
        let hash = self.hasher.hash_one(&*value);
        self.values.push(value);
        let (values, hasher) = (&self.values, &self.hasher);
        self.index.insert_unique(hash, sym.0, |&i| values.get(i as usize).map_or(0, |v| hasher.hash_one(&**v)));
        sym
    }

    /// The symbol of `value`, adding it if it is new.
    pub(crate) fn intern(&mut self, value: &T) -> Sym {
        match self.lookup(value) {
            Some(sym) => sym,
            None => self.add(Box::from(value)),
        }
    }

    /// The symbol of `value`, if it was ever interned.
    pub(crate) fn lookup(&self, value: &T) -> Option<Sym> {
        let hash = self.hasher.hash_one(value);
        self.index.find(hash, |&i| self.values.get(i as usize).is_some_and(|v| **v == *value)).map(|&i| Sym(i))
    }

    /// How many values it holds (the empty one counts).
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    pub(crate) fn resolve(&self, sym: Sym) -> &T {
        self.values.get(sym.index()).unwrap_or(&self.empty)
    }
}
