//! `#[derive(Model)]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, LitStr};

use crate::attrs::{is_type, items, named_fields, snake_case};

struct Col<'a> {
    field: &'a syn::Ident,
    ty: &'a syn::Type,
    name: String,
    unique: bool,
    index: bool,
    /// `index = "hash"`.
    hash: bool,
    /// `version`: the optimistic concurrency counter.
    version: bool,
    /// `json`: stored as a JSON document (as `relata::Json<T>`).
    json: bool,
}

impl Col<'_> {
    /// The type whose `ColumnType` stores the field: the field's own, or `Json<_>` of it.
    fn stored(&self) -> TokenStream {
        let ty = self.ty;
        if self.json {
            quote! { ::relata::Json<#ty> }
        } else {
            quote! { #ty }
        }
    }
}

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    let mut table = snake_case(&ident.to_string());
    for item in items(&input.attrs)? {
        match item.key.to_string().as_str() {
            "table" => table = item.string()?.value(),
            _ => {
                return Err(syn::Error::new(
                    item.key.span(),
                    "unknown attribute; expected `table = \"...\"`",
                ))
            }
        }
    }

    let mut pk: Option<(&syn::Ident, String, bool)> = None;
    let mut cols = Vec::new();
    for f in named_fields(input, "Model")? {
        let field = f.ident.as_ref().expect("named");
        let (mut is_pk, mut auto, mut unique, mut index) = (false, false, false, false);
        let (mut hash, mut version, mut json) = (false, false, false);
        let mut name = field.to_string();
        for item in items(&f.attrs)? {
            match item.key.to_string().as_str() {
                "primary_key" => { item.flag()?; is_pk = true }
                "autoincrement" => { item.flag()?; auto = true }
                "unique" => { item.flag()?; unique = true }
                "index" => {
                    index = true;
                    if item.flag().is_err() {
                        let kind = item.string()?;
                        if kind.value() != "hash" {
                            return Err(syn::Error::new(
                                kind.span(),
                                "expected `index` (the database's usual index) or `index = \"hash\"`",
                            ));
                        }
                        hash = true;
                    }
                }
                "column" => name = item.string()?.value(),
                "version" => { item.flag()?; version = true }
                "json" => { item.flag()?; json = true }
                _ => {
                    return Err(syn::Error::new(
                        item.key.span(),
                        "unknown attribute; expected primary_key, autoincrement, unique, index, version, json or column = \"...\"",
                    ))
                }
            }
        }
        if hash && unique {
            return Err(syn::Error::new(
                f.span(),
                "a hash index cannot enforce `unique`; use `unique` alone (it is indexed)",
            ));
        }
        if version {
            if is_pk || unique {
                return Err(syn::Error::new(
                    f.span(),
                    "a `version` column is a plain counter: not the primary key, not unique",
                ));
            }
            if !is_type(&f.ty, "i64", false) {
                return Err(syn::Error::new(
                    f.ty.span(),
                    "a `version` column must be `i64`: relata sets it to 1 on insert and adds 1 with every update",
                ));
            }
            if let Some(prev) = cols.iter().find(|c: &&Col| c.version) {
                return Err(syn::Error::new(
                    f.span(),
                    format!(
                        "a model has one version column, and `{}` is already it",
                        prev.field
                    ),
                ));
            }
        }
        if json && (is_pk || unique || index || version) {
            return Err(syn::Error::new(
                f.span(),
                "a `json` column holds a document: it cannot be the primary key, unique, indexed or a version",
            ));
        }
        if auto && !is_pk {
            return Err(syn::Error::new(
                f.span(),
                "`autoincrement` goes with `primary_key`",
            ));
        }
        if is_pk {
            if let Some((prev, ..)) = &pk {
                return Err(syn::Error::new(
                    f.span(),
                    format!("a model has one primary key, and `{prev}` is already it"),
                ));
            }
            if !is_type(&f.ty, "i64", true) {
                return Err(syn::Error::new(
                    f.ty.span(),
                    "the primary key must be `Option<i64>`: None until the object is committed, then the generated key",
                ));
            }
            if unique || index {
                return Err(syn::Error::new(
                    f.span(),
                    "a primary key is already unique and indexed",
                ));
            }
            pk = Some((field, name, auto));
        } else {
            cols.push(Col {
                field,
                ty: &f.ty,
                name,
                unique,
                index,
                hash,
                version,
                json,
            });
        }
    }
    let Some((pk_field, pk_name, auto)) = pk else {
        return Err(syn::Error::new(
            ident.span(),
            "a model needs a primary key: add `#[relata(primary_key)] id: Option<i64>`",
        ));
    };
    for (i, c) in cols.iter().enumerate() {
        if c.name == pk_name || cols[..i].iter().any(|o| o.name == c.name) {
            return Err(syn::Error::new(
                c.field.span(),
                format!("column `{}` is declared twice", c.name),
            ));
        }
    }

    let model_name = ident.to_string();
    let column_defs = cols.iter().map(|c| {
        let (name, field, ty, unique, index, hash) = (
            &c.name,
            c.field.to_string(),
            c.stored(),
            c.unique,
            c.index,
            c.hash,
        );
        quote! {
            ::relata::ColumnDef {
                name: #name,
                field: #field,
                sql_type: <#ty as ::relata::ColumnType>::SQL_TYPE,
                nullable: <#ty as ::relata::ColumnType>::NULLABLE,
                unique: #unique,
                indexed: #index,
                hash_index: #hash,
            }
        }
    });
    let checks = cols.iter().map(|c| {
        let (ty, stored) = (c.ty, c.stored());
        quote_spanned! {ty.span()=> const _: () = ::relata::__private::assert_column_type::<#stored>(); }
    });
    let values = cols.iter().enumerate().map(|(i, c)| {
        let f = c.field;
        if c.json {
            quote! { #i => ::relata::ColumnType::to_value(::relata::Json::from_ref(&self.#f)), }
        } else {
            quote! { #i => ::relata::ColumnType::to_value(&self.#f), }
        }
    });
    let reads = cols.iter().enumerate().map(|(i, c)| {
        let (f, stored, name) = (c.field, c.stored(), &c.name);
        let at = i;
        let unwrap = if c.json { quote! { .map(|j| j.0) } } else { quote! {} };
        quote! {
            #f: <#stored as ::relata::ColumnType>::read(row, start + #at)#unwrap.map_err(|e| ::relata::Error::Decode {
                table: #table,
                column: #name,
                reason: e.0,
            })?,
        }
    });
    let copies = cols.iter().map(|c| {
        let f = c.field;
        quote! { #f: ::core::clone::Clone::clone(&self.#f), }
    });
    let vis = &input.vis;
    let consts = cols.iter().map(|c| {
        let (f, ty) = (c.field, c.ty);
        let konst = format_ident!("{}", f.to_string().to_uppercase(), span = f.span());
        let name = LitStr::new(&c.name, f.span());
        let doc = format!("The `{}` column of `{}`.", c.name, table);
        quote! {
            #[doc = #doc]
            #vis const #konst: ::relata::Column<#ident, #ty> = ::relata::Column::new(#name);
        }
    });
    let pk_const = format_ident!(
        "{}",
        pk_field.to_string().to_uppercase(),
        span = pk_field.span()
    );
    let pk_doc = format!("The `{pk_name}` column of `{table}` (the primary key).");
    let columns_len = cols.len();
    let version = match cols.iter().position(|c| c.version) {
        Some(i) => quote! { ::core::option::Option::Some(#i) },
        None => quote! { ::core::option::Option::None },
    };
    let set_version = cols.iter().find(|c| c.version).map(|c| {
        let f = c.field;
        quote! {
            fn set_version(&mut self, version: i64) {
                self.#f = version;
            }
        }
    });

    Ok(quote! {
        #(#checks)*

        impl ::relata::Model for #ident {
            const TABLE: &'static ::relata::TableDef = &::relata::TableDef {
                name: #table,
                model: #model_name,
                primary_key: #pk_name,
                autoincrement: #auto,
                columns: &[#(#column_defs),*],
                version: #version,
                slot: {
                    fn slot() -> usize {
                        static SLOT: ::relata::__private::Slot = ::relata::__private::Slot::new();
                        SLOT.get()
                    }
                    slot
                },
            };

            fn id(&self) -> ::core::option::Option<i64> {
                self.#pk_field
            }

            fn set_id(&mut self, id: ::core::option::Option<i64>) {
                self.#pk_field = id;
            }

            fn value(&self, column: usize) -> ::relata::ValueRef<'_> {
                match column {
                    #(#values)*
                    _ => panic!("{} has {} columns, not {}", #model_name, #columns_len, column + 1),
                }
            }

            fn from_row(id: i64, row: &dyn ::relata::RowSource, start: usize) -> ::relata::Result<Self> {
                ::core::result::Result::Ok(Self {
                    #pk_field: ::core::option::Option::Some(id),
                    #(#reads)*
                })
            }

            fn snapshot(&self) -> Self {
                Self {
                    #pk_field: self.#pk_field,
                    #(#copies)*
                }
            }

            #set_version
        }

        impl ::relata::Entity for #ident {
            const ENTITY: ::relata::EntityDef = ::relata::EntityDef::Table(<Self as ::relata::Model>::TABLE);
        }

        impl #ident {
            #[doc = #pk_doc]
            #vis const #pk_const: ::relata::Column<#ident, i64> = ::relata::Column::new(#pk_name);
            #(#consts)*
        }
    })
}
