//! The syntax tree the parser builds from a SOM class file and the compiler turns into
//! threaded code.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// A literal value written in the source.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// An integer that fits a SmallInteger.
    Int(i64),
    /// An integer too large for a SmallInteger: its sign and decimal digits.
    BigInt(bool, String),
    /// A floating-point number.
    Double(f64),
    /// A string `'...'`.
    Str(String),
    /// A symbol `#foo`, `#at:put:`, `#+`, `#'...'`.
    Symbol(String),
    /// A literal array `#( ... )`.
    Array(Vec<Literal>),
    /// `nil`, `true`, `false` inside a literal array.
    Nil,
    /// `true` inside a literal array.
    True,
    /// `false` inside a literal array.
    False,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A variable or pseudo-variable read (`self`, `super`, `nil`, an argument, a global...).
    Var(String),
    /// `name := value`.
    Assign(String, Box<Expr>),
    /// A message send; `receiver` is `Var("super")` for super sends.
    Send {
        /// The receiver.
        receiver: Box<Expr>,
        /// The selector, e.g. `at:put:`.
        selector: String,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
    /// A literal.
    Lit(Literal),
    /// A block `[ :a | | t | ... ]`.
    Block(Box<Body>),
}

/// A statement of a method or block body.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// An expression evaluated for its value or effect.
    Expr(Expr),
    /// `^ expr`: return from the home method.
    Return(Expr),
}

/// The body of a method or block: parameters, temporaries and statements.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Body {
    /// Parameter names (method arguments or block `:params`).
    pub params: Vec<String>,
    /// Temporary variable names.
    pub temps: Vec<String>,
    /// The statements.
    pub stmts: Vec<Stmt>,
}

/// A method definition.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodDef {
    /// The selector.
    pub selector: String,
    /// The body; `None` for a `primitive` method.
    pub body: Option<Body>,
    /// The parameter names (also in `body.params` when there is a body).
    pub params: Vec<String>,
    /// Source line of the method pattern, for messages.
    pub line: u32,
}

/// A whole class file.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassDef {
    /// The class name.
    pub name: String,
    /// The superclass name; `None` means `Object`, `Some("nil")` means no superclass.
    pub superclass: Option<String>,
    /// Instance field names.
    pub fields: Vec<String>,
    /// Instance-side methods.
    pub methods: Vec<MethodDef>,
    /// Class-side field names.
    pub class_fields: Vec<String>,
    /// Class-side methods.
    pub class_methods: Vec<MethodDef>,
}
