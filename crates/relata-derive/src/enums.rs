//! `#[derive(Enum)]`: a fieldless enum stored as text, one string per variant.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

use crate::attrs::{items, snake_case};

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Enum)] does not support generic enums",
        ));
    }
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            ident.span(),
            "#[derive(Enum)] applies to enums whose variants have no fields",
        ));
    };
    let mut rename_all: Option<String> = None;
    let mut native: Option<String> = None;
    for item in items(&input.attrs)? {
        match item.key.to_string().as_str() {
            "native" => {
                let name = match item.value {
                    crate::attrs::Value::Flag => snake_case(&ident.to_string()),
                    _ => {
                        let lit = item.string()?;
                        let name = lit.value();
                        let ok = name.len() <= 63
                            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                            && name
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                        if !ok {
                            return Err(syn::Error::new(
                                lit.span(),
                                "a native enum's type name is a lowercase identifier of at most 63 characters (letters, digits, `_`)",
                            ));
                        }
                        name
                    }
                };
                native = Some(name);
            }
            "rename_all" => {
                let rule = item.string()?;
                match rule.value().as_str() {
                    "snake_case" | "lowercase" | "UPPERCASE" => rename_all = Some(rule.value()),
                    _ => {
                        return Err(syn::Error::new(
                            rule.span(),
                            "expected `rename_all = \"snake_case\"`, `\"lowercase\"` or `\"UPPERCASE\"`",
                        ))
                    }
                }
            }
            _ => {
                return Err(syn::Error::new(
                    item.key.span(),
                    "unknown attribute; expected `rename_all = \"...\"` or `native` (`native = \"type_name\"`)",
                ))
            }
        }
    }
    if data.variants.is_empty() {
        return Err(syn::Error::new(
            ident.span(),
            "#[derive(Enum)] needs at least one variant",
        ));
    }
    let mut names: Vec<(syn::Ident, String)> = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new(
                v.fields.span(),
                "#[derive(Enum)] stores variants by name: they cannot have fields",
            ));
        }
        let mut name = match rename_all.as_deref() {
            Some("snake_case") => snake_case(&v.ident.to_string()),
            Some("lowercase") => v.ident.to_string().to_lowercase(),
            Some("UPPERCASE") => v.ident.to_string().to_uppercase(),
            _ => v.ident.to_string(),
        };
        for item in items(&v.attrs)? {
            match item.key.to_string().as_str() {
                "rename" => name = item.string()?.value(),
                _ => {
                    return Err(syn::Error::new(
                        item.key.span(),
                        "unknown attribute; expected `rename = \"...\"`",
                    ))
                }
            }
        }
        if let Some((other, _)) = names.iter().find(|(_, n)| *n == name) {
            return Err(syn::Error::new(
                v.ident.span(),
                format!("`{}` and `{other}` are both stored as {name:?}", v.ident),
            ));
        }
        names.push((v.ident.clone(), name));
    }
    let to = names.iter().map(|(v, n)| quote! { #ident::#v => #n, });
    let from = names
        .iter()
        .map(|(v, n)| quote! { #n => ::core::result::Result::Ok(#ident::#v), });
    let expected = names
        .iter()
        .map(|(_, n)| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let type_name = ident.to_string();
    let native_type = native.map(|name| {
        let values = names.iter().map(|(_, n)| n);
        let definition = format!(
            "ENUM({})",
            names
                .iter()
                .map(|(_, n)| format!("'{}'", n.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        quote! {
            const NATIVE_TYPE: ::core::option::Option<::relata::SqlType> =
                ::core::option::Option::Some(::relata::SqlType::Enum(&::relata::EnumType {
                    name: #name,
                    values: &[#(#values),*],
                    definition: #definition,
                }));
        }
    });
    Ok(quote! {
        impl ::relata::StoredAs for #ident {
            type Stored = ::std::string::String;
            #native_type

            fn to_stored(&self) -> ::std::string::String {
                ::std::string::String::from(match self {
                    #(#to)*
                })
            }

            fn from_stored(stored: ::std::string::String) -> ::core::result::Result<Self, ::relata::DecodeError> {
                match stored.as_str() {
                    #(#from)*
                    other => ::core::result::Result::Err(::relata::DecodeError(::std::format!(
                        "{:?} is not a variant of {} (expected one of {})",
                        other, #type_name, #expected
                    ))),
                }
            }
        }
    })
}
