//! Parsing `#[relata(...)]` attributes into plain values, with errors at the right span.

use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Field, Fields, LitStr, Path, Type};

/// One `key`, `key = "string"` or `key = Path` item of a `#[relata(...)]` attribute.
pub enum Value {
    Flag,
    Str(LitStr),
    Path(Path),
}

pub struct Item {
    pub key: syn::Ident,
    pub value: Value,
}

/// Every item of every `#[relata(...)]` attribute.
pub fn items(attrs: &[Attribute]) -> syn::Result<Vec<Item>> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("relata")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .cloned()
                .ok_or_else(|| meta.error("expected a name"))?;
            let value = if meta.input.peek(syn::Token![=]) {
                let v = meta.value()?;
                if v.peek(LitStr) {
                    Value::Str(v.parse()?)
                } else {
                    Value::Path(v.parse()?)
                }
            } else {
                Value::Flag
            };
            out.push(Item { key, value });
            Ok(())
        })?;
    }
    Ok(out)
}

impl Item {
    pub fn flag(&self) -> syn::Result<()> {
        match self.value {
            Value::Flag => Ok(()),
            _ => Err(syn::Error::new(
                self.key.span(),
                format!("`{}` takes no value", self.key),
            )),
        }
    }
    pub fn string(&self) -> syn::Result<LitStr> {
        match &self.value {
            Value::Str(s) if !s.value().is_empty() => Ok(s.clone()),
            Value::Str(s) => Err(syn::Error::new(
                s.span(),
                format!("`{}` cannot be empty", self.key),
            )),
            _ => Err(syn::Error::new(
                self.key.span(),
                format!("expected `{} = \"...\"`", self.key),
            )),
        }
    }
    pub fn path(&self) -> syn::Result<Path> {
        match &self.value {
            Value::Path(p) => Ok(p.clone()),
            _ => Err(syn::Error::new(
                self.key.span(),
                format!("expected `{} = TypeName`", self.key),
            )),
        }
    }
}

/// The named fields of a plain struct.
pub fn named_fields<'a>(input: &'a DeriveInput, derive: &str) -> syn::Result<Vec<&'a Field>> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            format!("#[derive({derive})] does not support generic structs"),
        ));
    }
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => Ok(f.named.iter().collect()),
            _ => Err(syn::Error::new(
                input.ident.span(),
                format!("#[derive({derive})] needs a struct with named fields"),
            )),
        },
        _ => Err(syn::Error::new(
            input.ident.span(),
            format!("#[derive({derive})] only applies to structs"),
        )),
    }
}

/// Whether `ty` is spelled `name` or `Option<name>`.
pub fn is_type(ty: &Type, name: &str, optional: bool) -> bool {
    let Type::Path(p) = ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    if !optional {
        return p.qself.is_none() && last.ident == name && last.arguments.is_none();
    }
    if last.ident != "Option" {
        return false;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => {
            matches!(a.args.first(), Some(syn::GenericArgument::Type(t)) if is_type(t, name, false))
        }
        _ => false,
    }
}

/// `StudentCourse` -> `student_course`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
