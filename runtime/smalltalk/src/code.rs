//! Threaded code: the word format and the compiled-method header.
//!
//! A compiled method's code is an array of [`Word`]s:
//!
//! ```text
//! word 0   verify_selector         checks the sent selector, counts the invocation
//! word 1   &Method                 (operand of word 0)
//! word 2   routine                 a native routine ...
//! word 3.. operands of that routine, inline
//! ...      next routine, its operands, ...
//! ```
//!
//! Every routine has the one signature [`Routine`]: it gets the address of its own word,
//! the operand-stack pointer, the frame pointer and the VM, and returns the address of
//! the next routine's word plus the new stack pointer (a pair, returned in two
//! registers). A null next address ends the activation (return or unwind).

use crate::value::Value;
use crate::vm::Vm;
use alloc::boxed::Box;
use alloc::string::String;

/// What a routine returns: where to continue and the new stack pointer.
#[repr(C)]
pub struct Step {
    /// Next routine word, or null to leave the activation.
    pub pc: *const Word,
    /// The operand-stack pointer (points one past the top value).
    pub sp: *mut Value,
}

/// The one signature shared by every threaded-code routine.
pub type Routine = unsafe fn(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step;

/// A primitive: receiver at `fp[0]`, arguments at `fp[1..]`.
pub type PrimFn = fn(vm: &mut Vm, fp: *mut Value) -> Prim;

/// A primitive's outcome.
pub enum Prim {
    /// Success with a result.
    Ok(Value),
    /// The primitive does not apply: run the method's Smalltalk body instead.
    Fail,
    /// The primitive ran Smalltalk code that left its result in `fp[0]` (or is unwinding).
    Done,
}

/// One word of threaded code: a routine or an inline operand.
#[derive(Clone, Copy)]
#[repr(C)]
pub union Word {
    /// A routine.
    pub f: Routine,
    /// An unsigned operand (index, count, address).
    pub u: usize,
    /// A signed operand.
    pub i: i64,
    /// A value operand.
    pub v: Value,
    /// A primitive.
    pub p: PrimFn,
}

/// Header of a compiled method or block.
pub struct Method {
    /// The code words (owned; freed never: methods live as long as the VM).
    pub code: *mut Word,
    /// Number of code words.
    pub code_len: usize,
    /// Selector symbol index (blocks: the home method's selector).
    pub selector: u32,
    /// Class index of the class that defines the method.
    pub holder: u32,
    /// Number of arguments.
    pub num_args: usize,
    /// Frame slots after the arguments (temporaries, or the context slot).
    pub num_temps: usize,
    /// Deepest operand stack use.
    pub max_stack: usize,
    /// Literal values; roots for the collector, addressed from the code.
    pub literals: Box<[Value]>,
    /// Invocations so far (counted by word 0).
    pub invocations: u64,
    /// Is this a block?
    pub is_block: bool,
    /// Does an activation allocate a context object (frame slot `num_args + 1`)?
    pub has_context: bool,
    /// The primitive, if one is attached.
    pub primitive: Option<PrimFn>,
    /// Set for methods simple enough to run without a frame (accessors and the like).
    pub trivial: Trivial,
    /// The reflective `Method`/`Primitive` object, once asked for (a root).
    pub object: Value,
    /// Source line of the definition.
    pub line: u32,
    /// The defining file (for messages).
    pub file: String,
}

impl Method {
    /// Frame slot of the context object.
    pub fn context_slot(&self) -> usize {
        self.num_args + 1
    }
}

/// What a trivial method does; sends run it in place, without a frame (counting the
/// invocation as word 0 would).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Trivial {
    /// Not trivial: run the code.
    No,
    /// `^self` (or an empty body).
    ReturnSelf,
    /// `^field`: the receiver's slot.
    ReturnField(usize),
    /// `^nil`, `^true`, `^false` or `^` a SmallInteger literal.
    ReturnConst(Value),
    /// `field := argument` (answers self).
    SetField(usize),
}

/// An activation record, linked through the native stack; used for backtraces and for
/// finding the target of a non-local return.
pub struct Act {
    /// The running method.
    pub method: *const Method,
    /// Its frame.
    pub fp: *mut Value,
    /// The caller's record.
    pub prev: *const Act,
}
