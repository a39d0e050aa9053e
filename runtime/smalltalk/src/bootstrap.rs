//! Creating classes: the embedded core library, class definition from a parsed class
//! file, and the start-up sequence that builds the class hierarchy.

use crate::ast::ClassDef;
use crate::compiler::compile_method;
use crate::heap::{self, Format};
use crate::value::Value;
use crate::vm::{class_slot, cls, ClassInfo, Vm};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Size of every class's dispatch table.
const TABLE_SIZE: usize = 256;

/// The source of a core-library class, if `name` is one.
pub fn core_source(name: &str) -> Option<&'static str> {
    Some(match name {
        "Object" => include_str!("../core-lib/Object.som"),
        "Class" => include_str!("../core-lib/Class.som"),
        "Metaclass" => include_str!("../core-lib/Metaclass.som"),
        "Nil" => include_str!("../core-lib/Nil.som"),
        "Boolean" => include_str!("../core-lib/Boolean.som"),
        "True" => include_str!("../core-lib/True.som"),
        "False" => include_str!("../core-lib/False.som"),
        "Integer" => include_str!("../core-lib/Integer.som"),
        "Double" => include_str!("../core-lib/Double.som"),
        "String" => include_str!("../core-lib/String.som"),
        "Symbol" => include_str!("../core-lib/Symbol.som"),
        "Array" => include_str!("../core-lib/Array.som"),
        "Block" => include_str!("../core-lib/Block.som"),
        "Block1" => include_str!("../core-lib/Block1.som"),
        "Block2" => include_str!("../core-lib/Block2.som"),
        "Block3" => include_str!("../core-lib/Block3.som"),
        "Method" => include_str!("../core-lib/Method.som"),
        "Primitive" => include_str!("../core-lib/Primitive.som"),
        "System" => include_str!("../core-lib/System.som"),
        "Vector" => include_str!("../core-lib/Vector.som"),
        "Pair" => include_str!("../core-lib/Pair.som"),
        "HashEntry" => include_str!("../core-lib/HashEntry.som"),
        "Hashtable" => include_str!("../core-lib/Hashtable.som"),
        "Dictionary" => include_str!("../core-lib/Dictionary.som"),
        "Set" => include_str!("../core-lib/Set.som"),
        _ => return None,
    })
}

fn blank_info(vm: &Vm, name: u32, meta: u32, is_meta: bool) -> ClassInfo {
    ClassInfo {
        obj: Value::NIL,
        name,
        superclass: None,
        meta,
        is_meta,
        methods: BTreeMap::new(),
        fields: Vec::new(),
        format: Format::Pointers,
        table: vec![&*vm.miss as *const _; TABLE_SIZE],
    }
}

/// Builds the core classes, the `system` object and the globals.
pub fn bootstrap(vm: &mut Vm) -> Result<(), String> {
    let n = cls::NAMES.len() as u32;
    for (i, name) in cls::NAMES.iter().enumerate() {
        let sym = vm.symbols.intern(name);
        let info = blank_info(vm, sym, i as u32 + n, false);
        vm.classes.push(info);
    }
    for (i, name) in cls::NAMES.iter().enumerate() {
        let sym = vm.symbols.intern(name);
        let info = blank_info(vm, sym, cls::METACLASS, true);
        vm.classes.push(info);
        let _ = i;
    }
    for name in cls::NAMES.iter() {
        let source = match core_source(name) {
            Some(s) => String::from(s),
            None => format!("{name} = Object ( )"),
        };
        let sym = vm.symbols.intern(name);
        vm.loading.push(sym);
        let r = vm.define_class_source(&source, &format!("core-lib/{name}.som"));
        vm.loading.pop();
        r?;
    }
    // Superclass links of class objects whose superclass was defined later (`Object
    // class superclass` is `Class`).
    for c in 0..vm.classes.len() {
        if let Some(s) = vm.classes[c].superclass {
            let sup = vm.classes[s as usize].obj;
            // SAFETY: every class object has the fixed class slots.
            unsafe { heap::set_slot(vm.classes[c].obj, class_slot::SUPERCLASS, sup) };
        }
    }
    vm.system = vm.alloc(cls::SYSTEM, Format::Pointers, 0);
    let sym = vm.symbols.intern("system");
    vm.set_global(sym, vm.system);
    Ok(())
}

/// The class (and metaclass) index for a class named `name`: the preassigned core index
/// or two fresh indices.
fn class_indices(vm: &mut Vm, name: u32) -> (u32, u32) {
    if let Some(i) = vm
        .classes
        .iter()
        .position(|c| !c.is_meta && c.name == name && c.obj == Value::NIL)
    {
        return (i as u32, vm.classes[i].meta);
    }
    let c = vm.classes.len() as u32;
    let info = blank_info(vm, name, c + 1, false);
    vm.classes.push(info);
    let meta = blank_info(vm, name, cls::METACLASS, true);
    vm.classes.push(meta);
    (c, c + 1)
}

fn symbol_array(vm: &mut Vm, names: &[String]) -> Value {
    let arr = vm.new_array(names.len());
    vm.handles.push(arr);
    for (i, n) in names.iter().enumerate() {
        let s = vm.symbols.intern(n);
        let s = vm.symbol_obj(s);
        let arr = *vm.handles.last().expect("pushed above");
        // SAFETY: `arr` has `names.len()` slots.
        unsafe { heap::set_slot(arr, i, s) };
    }
    vm.handles.pop().expect("pushed above")
}

fn new_class_object(vm: &mut Vm, c: u32, header_class: u32, size: usize) {
    let obj = vm.alloc(header_class, Format::Pointers, size);
    vm.classes[c as usize].obj = obj;
    // Each value is stored as soon as it exists: any allocation may move the class object.
    let name = vm.symbol_obj(vm.classes[c as usize].name);
    // SAFETY: class objects have at least `class_slot::COUNT` slots.
    unsafe { heap::set_slot(vm.classes[c as usize].obj, class_slot::NAME, name) };
    let fields = vm.classes[c as usize].fields.clone();
    let fields = symbol_array(vm, &fields);
    let sup = vm.classes[c as usize]
        .superclass
        .map_or(Value::NIL, |s| vm.classes[s as usize].obj);
    let obj = vm.classes[c as usize].obj;
    // SAFETY: as above.
    unsafe {
        heap::set_slot(obj, class_slot::FIELDS, fields);
        heap::set_slot(obj, class_slot::SUPERCLASS, sup);
        heap::set_slot(obj, class_slot::INDEX, Value::int(c as i64));
    }
}

/// Defines (or, for a core class, completes) the class `def` and binds its global.
pub fn define_class(vm: &mut Vm, def: &ClassDef, file: &str) -> Result<u32, String> {
    let name = vm.symbols.intern(&def.name);
    let superclass = match def.superclass.as_deref() {
        Some("nil") => None,
        other => {
            let sup_name = vm.symbols.intern(other.unwrap_or("Object"));
            match vm.load_class(sup_name)? {
                Some(s) => Some(s),
                None => {
                    return Err(format!(
                        "{file}: superclass {} of {} not found",
                        other.unwrap_or("Object"),
                        def.name
                    ))
                }
            }
        }
    };
    let (c, meta) = class_indices(vm, name);
    let mut fields = superclass.map_or(Vec::new(), |s| vm.classes[s as usize].fields.clone());
    fields.extend(def.fields.iter().cloned());
    let meta_super = match superclass {
        Some(s) => Some(vm.classes[s as usize].meta),
        None => Some(cls::CLASS),
    };
    let mut class_fields = match superclass {
        Some(s) => vm.classes[vm.classes[s as usize].meta as usize]
            .fields
            .clone(),
        None => Vec::new(),
    };
    class_fields.extend(def.class_fields.iter().cloned());
    let format = match superclass {
        Some(s) if c != cls::SYMBOL => vm.classes[s as usize].format,
        _ => Format::Pointers,
    };
    {
        let info = &mut vm.classes[c as usize];
        info.superclass = superclass;
        info.fields = fields.clone();
        info.format = if c == cls::STRING || c == cls::SYMBOL {
            Format::Bytes
        } else {
            format
        };
        let m = &mut vm.classes[meta as usize];
        m.superclass = meta_super;
        m.fields = class_fields.clone();
    }
    new_class_object(vm, meta, cls::METACLASS, class_slot::COUNT);
    new_class_object(vm, c, meta, class_slot::COUNT + class_fields.len());
    let class_name = def.name.clone();
    for m in &def.methods {
        let prim = crate::prims::find(&class_name, &m.selector);
        if m.body.is_none() && prim.is_none() {
            return Err(format!(
                "{file}:{}: no primitive {}>>#{}",
                m.line, class_name, m.selector
            ));
        }
        let method = compile_method(vm, c, &fields, m, prim, file)?;
        let sel = vm.symbols.intern(&m.selector);
        vm.classes[c as usize].methods.insert(sel, method);
    }
    let meta_name = format!("{class_name} class");
    let meta_fields: Vec<String> = class_fields[..].to_vec();
    for m in &def.class_methods {
        let prim = crate::prims::find(&meta_name, &m.selector);
        if m.body.is_none() && prim.is_none() {
            return Err(format!(
                "{file}:{}: no primitive {}>>#{}",
                m.line, meta_name, m.selector
            ));
        }
        let method = compile_method(vm, meta, &meta_fields, m, prim, file)?;
        let sel = vm.symbols.intern(&m.selector);
        vm.classes[meta as usize].methods.insert(sel, method);
    }
    let obj = vm.classes[c as usize].obj;
    vm.set_global(name, obj);
    Ok(c)
}
