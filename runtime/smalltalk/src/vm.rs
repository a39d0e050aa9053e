//! The virtual machine's state: heap, value stack, classes, symbols, globals, compiled
//! methods; allocation helpers, root enumeration for the collector, class loading and
//! error reporting.

use crate::bigint::Big;
use crate::code::{Act, Method};
use crate::heap::{self, Format, Heap};
use crate::value::Value;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use kiln_abi::Platform;

pub use crate::symbols::Symbols;

/// Where class files and `loadFile:` contents come from (the file system when hosted).
pub trait SourceFiles {
    /// The contents of the file at `path`, if it exists.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
}

/// Fixed class indices of the classes the VM itself knows about.
pub mod cls {
    /// `Object`
    pub const OBJECT: u32 = 0;
    /// `Class`
    pub const CLASS: u32 = 1;
    /// `Metaclass`
    pub const METACLASS: u32 = 2;
    /// `Nil`
    pub const NIL: u32 = 3;
    /// `Boolean`
    pub const BOOLEAN: u32 = 4;
    /// `True`
    pub const TRUE: u32 = 5;
    /// `False`
    pub const FALSE: u32 = 6;
    /// `Integer`
    pub const INTEGER: u32 = 7;
    /// `Double`
    pub const DOUBLE: u32 = 8;
    /// `String`
    pub const STRING: u32 = 9;
    /// `Symbol`
    pub const SYMBOL: u32 = 10;
    /// `Array`
    pub const ARRAY: u32 = 11;
    /// `Block`
    pub const BLOCK: u32 = 12;
    /// `Block1` (no arguments)
    pub const BLOCK1: u32 = 13;
    /// `Method`
    pub const METHOD: u32 = 16;
    /// `Primitive`
    pub const PRIMITIVE: u32 = 17;
    /// `System`
    pub const SYSTEM: u32 = 18;
    /// The VM-internal class of block contexts (never visible as a global).
    pub const CONTEXT: u32 = 19;
    /// Names of the classes above, in index order.
    pub const NAMES: [&str; 20] = [
        "Object",
        "Class",
        "Metaclass",
        "Nil",
        "Boolean",
        "True",
        "False",
        "Integer",
        "Double",
        "String",
        "Symbol",
        "Array",
        "Block",
        "Block1",
        "Block2",
        "Block3",
        "Method",
        "Primitive",
        "System",
        "Context",
    ];
}

/// Slots of every class object (before its class-side fields).
pub mod class_slot {
    /// The superclass object (or nil).
    pub const SUPERCLASS: usize = 0;
    /// The name symbol.
    pub const NAME: usize = 1;
    /// Array of instance field name symbols.
    pub const FIELDS: usize = 2;
    /// Array of Method/Primitive objects (filled on demand).
    pub const METHODS: usize = 3;
    /// The class index as a SmallInteger.
    pub const INDEX: usize = 4;
    /// Number of fixed slots.
    pub const COUNT: usize = 5;
}

/// What the VM knows about one class.
pub struct ClassInfo {
    /// The class object (a root).
    pub obj: Value,
    /// Name symbol.
    pub name: u32,
    /// Superclass index.
    pub superclass: Option<u32>,
    /// The metaclass index (for a metaclass: itself is meta, this is `Metaclass`).
    pub meta: u32,
    /// Is this a metaclass?
    pub is_meta: bool,
    /// Method dictionary: selector symbol -> method.
    pub methods: BTreeMap<u32, *const Method>,
    /// Field names, inherited first.
    pub fields: Vec<String>,
    /// Format of instances.
    pub format: Format,
    /// Lazily filled dispatch table, indexed by a hash of the selector.
    pub table: Vec<*const Method>,
}

/// Options of a VM.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Collect at every allocation.
    pub gc_stress: bool,
    /// Deepest Smalltalk call depth before a stack-overflow error.
    pub max_depth: usize,
    /// Largest semispace in bytes.
    pub heap_max: usize,
    /// Value-stack slots.
    pub stack_slots: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            gc_stress: false,
            max_depth: 100_000,
            heap_max: 1 << 30,
            stack_slots: 1 << 20,
        }
    }
}

/// No unwinding in progress.
pub const UNWIND_NONE: u8 = 0;
/// A non-local return is unwinding to the frame `nlr_target`.
pub const UNWIND_NLR: u8 = 1;
/// An unhandled error is unwinding everything.
pub const UNWIND_ABORT: u8 = 2;
/// `system exit:` is unwinding everything.
pub const UNWIND_EXIT: u8 = 3;

/// The virtual machine.
pub struct Vm {
    /// The machine.
    pub platform: &'static dyn Platform,
    /// Object memory.
    pub heap: Heap,
    pub(crate) stack: Box<[Value]>,
    /// Saved top of the value stack: everything below is a root.
    pub sp: *mut Value,
    pub(crate) stack_limit: *mut Value,
    /// Selector of the send in progress (checked by word 0 of the callee).
    pub sel: u32,
    /// Message sends executed.
    pub sends: u64,
    pub(crate) unwind: u8,
    pub(crate) nlr_target: u64,
    pub(crate) nlr_value: Value,
    pub(crate) acts: *const Act,
    pub(crate) depth: usize,
    pub(crate) options: Options,
    /// Classes by index.
    pub classes: Vec<ClassInfo>,
    /// Symbols.
    pub symbols: Symbols,
    pub(crate) globals: Vec<Value>,
    pub(crate) global_names: Vec<u32>,
    global_map: BTreeMap<u32, usize>,
    // Boxed so each method's header (and its literal slots) keeps its address.
    #[allow(clippy::vec_box)]
    pub(crate) methods: Vec<Box<Method>>,
    /// Values the Rust side holds across allocations (roots).
    pub handles: Vec<Value>,
    pub(crate) files: Box<dyn SourceFiles>,
    /// Directories searched for class files.
    pub class_path: Vec<String>,
    pub(crate) miss: Box<Method>,
    /// The message of the error being unwound, with its backtrace.
    pub error: Option<String>,
    /// Status of `system exit:`.
    pub exit_code: i32,
    pub(crate) system: Value,
    pub(crate) start_ns: u64,
    pub(crate) loading: Vec<u32>,
    pub(crate) special: [u32; 16],
}

/// Selectors the VM needs by index.
pub mod sel {
    /// `doesNotUnderstand:arguments:`
    pub const DNU: usize = 0;
    /// `escapedBlock:`
    pub const ESCAPED: usize = 1;
    /// `unknownGlobal:`
    pub const UNKNOWN_GLOBAL: usize = 2;
    /// `run:`
    pub const RUN_ARGS: usize = 3;
    /// `run`
    pub const RUN: usize = 4;
    /// `value`
    pub const VALUE: usize = 5;
    /// `value:`
    pub const VALUE1: usize = 6;
    /// `printString`
    pub const PRINT_STRING: usize = 7;
    /// `new`
    pub const NEW: usize = 8;
    /// `asString`
    pub const AS_STRING: usize = 9;
    /// Names, in index order.
    pub const NAMES: [&str; 10] = [
        "doesNotUnderstand:arguments:",
        "escapedBlock:",
        "unknownGlobal:",
        "run:",
        "run",
        "value",
        "value:",
        "printString",
        "new",
        "asString",
    ];
}

impl Vm {
    /// A VM with the core library loaded.
    pub fn new(
        platform: &'static dyn Platform,
        files: Box<dyn SourceFiles>,
        options: Options,
    ) -> Result<Vm, String> {
        let mut heap = Heap::new(platform, options.heap_max)
            .map_err(|_| String::from("cannot reserve the heap"))?;
        heap.stress = options.gc_stress;
        let mut stack = vec![Value::NIL; options.stack_slots].into_boxed_slice();
        let base = stack.as_mut_ptr();
        let miss = Box::new(Method {
            code: core::ptr::null_mut(),
            code_len: 0,
            selector: u32::MAX,
            holder: 0,
            num_args: 0,
            num_temps: 0,
            max_stack: 0,
            literals: Box::new([]),
            invocations: 0,
            is_block: false,
            has_context: false,
            primitive: None,
            trivial: crate::code::Trivial::No,
            object: Value::NIL,
            line: 0,
            file: String::new(),
        });
        let mut vm = Vm {
            platform,
            heap,
            // SAFETY: leave a margin of 1024 slots above the limit for primitives' pushes.
            stack_limit: unsafe { base.add(options.stack_slots - 1024) },
            sp: base,
            stack,
            sel: 0,
            sends: 0,
            unwind: UNWIND_NONE,
            nlr_target: 0,
            nlr_value: Value::NIL,
            acts: core::ptr::null(),
            depth: 0,
            options,
            classes: Vec::new(),
            symbols: Symbols::default(),
            globals: Vec::new(),
            global_names: Vec::new(),
            global_map: BTreeMap::new(),
            methods: Vec::new(),
            handles: Vec::new(),
            files,
            class_path: Vec::new(),
            miss,
            error: None,
            exit_code: 0,
            system: Value::NIL,
            start_ns: platform.monotonic_ns(),
            loading: Vec::new(),
            special: [0; 16],
        };
        for (i, n) in sel::NAMES.iter().enumerate() {
            vm.special[i] = vm.symbols.intern(n);
        }
        crate::bootstrap::bootstrap(&mut vm)?;
        Ok(vm)
    }

    /// Selector index of one of the [`sel`] selectors.
    #[inline(always)]
    pub fn special_sel(&self, which: usize) -> u32 {
        self.special[which]
    }

    /// The bottom of the value stack.
    pub fn stack_base(&mut self) -> *mut Value {
        self.stack.as_mut_ptr()
    }

    // ----- allocation -----

    /// Allocates an object, collecting garbage if needed. Invalidates every unrooted value.
    pub fn alloc(&mut self, class: u32, fmt: Format, size: usize) -> Value {
        if let Some(v) = self.heap.try_alloc(class, fmt, size) {
            return v;
        }
        self.collect(size + 2);
        self.heap.stress = false;
        let r = self.heap.try_alloc(class, fmt, size);
        self.heap.stress = self.options.gc_stress;
        match r {
            Some(v) => v,
            None => {
                self.platform
                    .console_write_err(b"kiln som: out of memory\n");
                self.platform.exit(kiln_abi::ExitStatus::Trap as i32)
            }
        }
    }

    /// Runs a full collection.
    pub fn collect(&mut self, need_words: usize) {
        let top = self.sp;
        let Vm {
            heap,
            stack,
            handles,
            globals,
            classes,
            symbols,
            methods,
            nlr_value,
            system,
            ..
        } = self;
        let base = stack.as_mut_ptr();
        let r = heap.collect(need_words, &mut |visit: &mut dyn FnMut(&mut Value)| {
            let mut p = base;
            while p < top {
                // SAFETY: `[base, top)` is the live part of the value stack.
                unsafe {
                    visit(&mut *p);
                    p = p.add(1);
                }
            }
            handles.iter_mut().for_each(&mut *visit);
            globals.iter_mut().for_each(&mut *visit);
            classes.iter_mut().for_each(|c| visit(&mut c.obj));
            symbols.objects.iter_mut().for_each(&mut *visit);
            for m in methods.iter_mut() {
                m.literals.iter_mut().for_each(&mut *visit);
                visit(&mut m.object);
            }
            visit(nlr_value);
            visit(system);
        });
        if r.is_err() {
            self.platform
                .console_write_err(b"kiln som: out of memory\n");
            self.platform.exit(kiln_abi::ExitStatus::Trap as i32)
        }
    }

    /// Is there room for `slots` more values on the value stack?
    pub fn has_stack_room(&self, slots: usize) -> bool {
        (self.stack_limit as usize - self.sp as usize) / 8 > slots
    }

    /// Could an object of `bytes` bytes ever fit in the heap?
    pub fn can_allocate(&self, bytes: usize) -> bool {
        bytes < self.options.heap_max / 2
    }

    /// Pushes a value on the value stack (a root) and returns its slot.
    pub fn push(&mut self, v: Value) -> *mut Value {
        let p = self.sp;
        // SAFETY: the stack has a margin above `stack_limit`; callers pop what they push.
        unsafe {
            *p = v;
            self.sp = p.add(1);
        }
        p
    }

    /// The class index of any value.
    #[inline(always)]
    pub fn class_of(&self, v: Value) -> u32 {
        if v.is_int() {
            cls::INTEGER
        } else if v.is_ptr() {
            // SAFETY: pointer values always point at live objects.
            unsafe { heap::class_index(v) }
        } else if v == Value::NIL {
            cls::NIL
        } else if v == Value::TRUE {
            cls::TRUE
        } else {
            cls::FALSE
        }
    }

    /// A new String.
    pub fn new_string(&mut self, bytes: &[u8]) -> Value {
        let s = self.alloc(cls::STRING, Format::Bytes, bytes.len());
        // SAFETY: `s` is a fresh byte object of `bytes.len()` bytes.
        unsafe { heap::bytes(s).copy_from_slice(bytes) };
        s
    }

    /// The bytes of a String or Symbol (copied), if `v` is one.
    pub fn string_of(&self, v: Value) -> Option<Vec<u8>> {
        // SAFETY: checked to be a byte object first.
        unsafe { (v.is_ptr() && heap::format(v) == Format::Bytes).then(|| heap::bytes(v).to_vec()) }
    }

    /// A new Array of `n` nils.
    pub fn new_array(&mut self, n: usize) -> Value {
        self.alloc(cls::ARRAY, Format::Pointers, n)
    }

    /// A boxed Double.
    pub fn new_double(&mut self, d: f64) -> Value {
        let v = self.alloc(cls::DOUBLE, Format::Double, 8);
        // SAFETY: a Double object's body is 8 bytes.
        unsafe { *(heap::slots(v) as *mut f64) = d };
        v
    }

    /// The value of a Double, if `v` is one.
    #[inline]
    pub fn double_of(&self, v: Value) -> Option<f64> {
        // SAFETY: checked to be a Double object first.
        unsafe {
            (v.is_ptr() && heap::format(v) == Format::Double)
                .then(|| *(heap::slots(v) as *const f64))
        }
    }

    /// An Integer value: a SmallInteger if it fits, else a large integer object.
    pub fn new_int(&mut self, b: &Big) -> Value {
        if let Some(v) = b.to_i64().and_then(Value::try_int) {
            return v;
        }
        let fmt = if b.neg {
            Format::LargeNeg
        } else {
            Format::LargePos
        };
        let v = self.alloc(cls::INTEGER, fmt, b.mag.len() * 4);
        // SAFETY: the object has room for `mag.len()` 32-bit limbs.
        unsafe {
            let p = heap::slots(v) as *mut u32;
            for (i, &l) in b.mag.iter().enumerate() {
                *p.add(i) = l;
            }
        }
        v
    }

    /// An Integer value from an `i128`.
    pub fn int_from(&mut self, i: i128) -> Value {
        match i64::try_from(i).ok().and_then(Value::try_int) {
            Some(v) => v,
            None => self.new_int(&Big::from_i128(i)),
        }
    }

    /// The integer `v` as a big integer, if it is an Integer.
    pub fn big_of(&self, v: Value) -> Option<Big> {
        if v.is_int() {
            return Some(Big::from_i128(v.as_int() as i128));
        }
        if !v.is_ptr() {
            return None;
        }
        // SAFETY: the format says `v` is a large integer with `size / 4` limbs.
        unsafe {
            let fmt = heap::format(v);
            if fmt != Format::LargePos && fmt != Format::LargeNeg {
                return None;
            }
            let n = heap::size(v) / 4;
            let p = heap::slots(v) as *const u32;
            let mag = (0..n).map(|i| *p.add(i)).collect();
            Some(Big {
                neg: fmt == Format::LargeNeg,
                mag,
            })
        }
    }

    // ----- symbols -----

    /// The Symbol object of symbol `i`.
    pub fn symbol_obj(&mut self, i: u32) -> Value {
        let v = self.symbols.objects[i as usize];
        if v != Value::NIL {
            return v;
        }
        let name = String::from(self.symbols.name(i));
        let s = self.alloc(cls::SYMBOL, Format::Bytes, name.len());
        // SAFETY: fresh byte object of the right size.
        unsafe { heap::bytes(s).copy_from_slice(name.as_bytes()) };
        self.symbols.objects[i as usize] = s;
        s
    }

    /// The symbol index of a Symbol or String object (interning it).
    pub fn symbol_index(&mut self, v: Value) -> Option<u32> {
        let b = self.string_of(v)?;
        Some(self.symbols.intern(&String::from_utf8_lossy(&b)))
    }

    // ----- globals -----

    /// The slot index of global `name`, creating an unbound slot.
    pub fn global_slot(&mut self, name: u32) -> usize {
        if let Some(&i) = self.global_map.get(&name) {
            return i;
        }
        let i = self.globals.len();
        self.globals.push(Value::UNBOUND);
        self.global_names.push(name);
        self.global_map.insert(name, i);
        i
    }

    /// Binds a global.
    pub fn set_global(&mut self, name: u32, v: Value) {
        let i = self.global_slot(name);
        self.globals[i] = v;
    }

    /// Reads global slot `i`, loading a class of that name from the class path if it is
    /// unbound. `None` if there is no such global.
    pub fn read_global(&mut self, i: usize) -> Option<Value> {
        let v = self.globals[i];
        if v != Value::UNBOUND {
            return Some(v);
        }
        let name = self.global_names[i];
        match self.load_class(name) {
            Ok(Some(c)) => Some(self.classes[c as usize].obj),
            Ok(None) => None,
            Err(msg) => {
                self.abort(msg);
                None
            }
        }
    }

    /// The SmallInteger value of global `name`, if it is bound to one.
    pub fn global_int(&mut self, name: &str) -> Option<u64> {
        let sym = self.symbols.find(name)?;
        let slot = *self.global_map.get(&sym)?;
        let v = self.globals[slot];
        (v.is_int() && v.as_int() >= 0).then(|| v.as_int() as u64)
    }

    // ----- classes -----

    /// A class's name.
    pub fn class_name(&self, c: u32) -> String {
        let info = &self.classes[c as usize];
        if info.is_meta {
            let inst = self.instance_class_of_meta(c);
            format!(
                "{} class",
                self.symbols.name(self.classes[inst as usize].name)
            )
        } else {
            String::from(self.symbols.name(info.name))
        }
    }

    fn instance_class_of_meta(&self, meta: u32) -> u32 {
        self.classes
            .iter()
            .position(|c| !c.is_meta && c.meta == meta)
            .unwrap_or(0) as u32
    }

    /// The class index of a class object.
    pub fn class_index_of(&self, class_obj: Value) -> Option<u32> {
        if !class_obj.is_ptr() {
            return None;
        }
        let k = self.class_of(class_obj);
        // SAFETY: class and metaclass objects have `class_slot::COUNT` fixed slots.
        unsafe {
            let is_class =
                k == cls::METACLASS || self.classes.get(k as usize).is_some_and(|c| c.is_meta);
            is_class.then(|| heap::slot(class_obj, class_slot::INDEX).as_int() as u32)
        }
    }

    /// Loads class `name` from the embedded core library or the class path. `Ok(None)` if
    /// no file defines it.
    pub fn load_class(&mut self, name: u32) -> Result<Option<u32>, String> {
        let text = String::from(self.symbols.name(name));
        if let Some(&slot) = self.global_map.get(&name) {
            let v = self.globals[slot];
            if v != Value::UNBOUND {
                return Ok(self.class_index_of(v));
            }
        }
        if self.loading.contains(&name) {
            return Err(format!("class {text} inherits from itself"));
        }
        let (source, file) = match crate::bootstrap::core_source(&text) {
            Some(s) => (String::from(s), format!("core-lib/{text}.som")),
            None => {
                let mut found = None;
                for dir in self.class_path.clone() {
                    let path = format!("{dir}/{text}.som");
                    if let Some(bytes) = self.files.read(&path) {
                        found = Some((String::from_utf8_lossy(&bytes).into_owned(), path));
                        break;
                    }
                }
                match found {
                    Some(f) => f,
                    None => return Ok(None),
                }
            }
        };
        self.loading.push(name);
        let r = self.define_class_source(&source, &file);
        self.loading.pop();
        r.map(Some)
    }

    /// Parses and defines a class from source text.
    pub fn define_class_source(&mut self, source: &str, file: &str) -> Result<u32, String> {
        let def = crate::parser::parse_class(source)
            .map_err(|e| format!("{file}:{}:{}: {}", e.line, e.col, e.message))?;
        crate::bootstrap::define_class(self, &def, file)
    }

    /// Finds the method for `selector` in class `c` or its superclasses.
    pub fn lookup(&self, mut c: u32, selector: u32) -> Option<*const Method> {
        loop {
            let info = &self.classes[c as usize];
            if let Some(&m) = info.methods.get(&selector) {
                return Some(m);
            }
            c = info.superclass?;
        }
    }

    /// The dispatch-table slot of `selector`.
    #[inline(always)]
    pub fn table_index(selector: u32, len: usize) -> usize {
        (selector as usize).wrapping_mul(0x9E37_79B9) >> 7 & (len - 1)
    }

    /// Method lookup through class `c`'s dispatch table, filling it on a miss.
    #[inline]
    pub fn dispatch(&mut self, c: u32, selector: u32) -> Option<*const Method> {
        let info = &mut self.classes[c as usize];
        let i = Self::table_index(selector, info.table.len());
        let m = info.table[i];
        // SAFETY: table entries are the `miss` method or live methods.
        if unsafe { (*m).selector } == selector {
            return Some(m);
        }
        let found = self.lookup(c, selector)?;
        self.classes[c as usize].table[i] = found;
        Some(found)
    }

    /// Is class `c` the same as or a subclass of `ancestor`?
    pub fn inherits(&self, mut c: u32, ancestor: u32) -> bool {
        loop {
            if c == ancestor {
                return true;
            }
            match self.classes[c as usize].superclass {
                Some(s) => c = s,
                None => return false,
            }
        }
    }

    // ----- errors -----

    /// Starts unwinding everything with an error message and the current backtrace.
    pub fn abort(&mut self, message: String) {
        if self.unwind == UNWIND_ABORT || self.unwind == UNWIND_EXIT {
            return;
        }
        let mut text = message;
        text.push('\n');
        text.push_str(&self.backtrace());
        self.error = Some(text);
        self.unwind = UNWIND_ABORT;
    }

    /// The Smalltalk backtrace, innermost first.
    pub fn backtrace(&self) -> String {
        let mut out = String::new();
        let mut a = self.acts;
        let mut n = 0;
        while !a.is_null() {
            // SAFETY: activation records live on the native stack while linked.
            unsafe {
                let m = &*(*a).method;
                if n < 40 {
                    out.push_str(&format!(
                        "    at {}>>#{}{}\n",
                        self.class_name(m.holder),
                        self.symbols.name(m.selector),
                        if m.is_block { " [block]" } else { "" }
                    ));
                } else if n == 40 {
                    out.push_str("    ...\n");
                }
                a = (*a).prev;
            }
            n += 1;
        }
        out
    }

    /// Total sends so far.
    pub fn send_count(&self) -> u64 {
        self.sends
    }

    /// Method and block activations so far: the sum of every method's invocation
    /// counter. Unlike [`Vm::send_count`] it leaves out the sends answered by a
    /// SmallInteger fast path (`+`, `<` ...).
    pub fn invocation_count(&self) -> u64 {
        self.methods.iter().map(|m| m.invocations).sum()
    }

    /// Registers a compiled method so its literals are roots; returns its stable address.
    pub(crate) fn register_method(&mut self, m: Box<Method>) -> *mut Method {
        self.methods.push(m);
        let last = self.methods.last_mut().expect("just pushed");
        &mut **last as *mut Method
    }
}
