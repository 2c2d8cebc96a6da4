//! `#[derive(Model)]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, LitStr};

use crate::attrs::{is_type, items, named_fields, snake_case};
use crate::reference::{self, Fk, Ref, RefAttrs};

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
    /// `references = Model, ...`: a foreign key.
    reference: Option<Ref>,
    /// Whether the field is an `Option` (a nullable column).
    optional: bool,
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

    // The key field, its column, `autoincrement`, and its type if the application chooses it.
    let mut pk: Option<(&syn::Ident, String, bool, Option<&syn::Type>)> = None;
    let mut cols = Vec::new();
    for f in named_fields(input, "Model")? {
        let field = f.ident.as_ref().expect("named");
        let (mut is_pk, mut auto, mut unique, mut index) = (false, false, false, false);
        let (mut hash, mut version, mut json) = (false, false, false);
        let mut name = field.to_string();
        let mut fk = RefAttrs::default();
        for item in items(&f.attrs)? {
            match item.key.to_string().as_str() {
                "references" => fk.model = Some(item.path()?),
                "relation" => fk.relation = Some(item.string()?),
                "inverse" => fk.inverse = Some(item.string()?),
                "on_delete" => fk.on_delete = Some(item.string()?),
                "order_by" => fk.order_by = Some(item.string()?),
                "delete_orphans" => {
                    item.flag()?;
                    fk.delete_orphans = true;
                }
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
                        "unknown attribute; expected primary_key, autoincrement, unique, index, version, json, column = \"...\", or a foreign key's references = Model, relation = \"...\", inverse = \"...\", on_delete = \"...\", order_by = \"...\", delete_orphans",
                    ))
                }
            }
        }
        let optional = matches!(&f.ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"));
        let reference = fk.finish(f.span(), optional)?;
        if reference.is_some() && (is_pk || version || json) {
            return Err(syn::Error::new(
                f.span(),
                "a foreign key is a plain column holding the referenced model's key: not the primary key, a version or json",
            ));
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
            let generated = is_type(&f.ty, "i64", true);
            if !generated && optional {
                return Err(syn::Error::new(
                    f.ty.span(),
                    "a primary key is `Option<i64>` (generated by the database) or a key the application chooses (`i64`, `String`, `uuid::Uuid`), never another `Option`",
                ));
            }
            if !generated && auto {
                return Err(syn::Error::new(
                    f.span(),
                    "`autoincrement` is for generated keys (`Option<i64>`); this key is chosen by the application",
                ));
            }
            if unique || index {
                return Err(syn::Error::new(
                    f.span(),
                    "a primary key is already unique and indexed",
                ));
            }
            pk = Some((field, name, auto, (!generated).then_some(&f.ty)));
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
                reference,
                optional,
            });
        }
    }
    let Some((pk_field, pk_name, auto, chosen)) = pk else {
        return Err(syn::Error::new(
            ident.span(),
            "a model needs a primary key: add `#[relata(primary_key)] id: Option<i64>` (generated) or a key the application chooses, such as `#[relata(primary_key)] code: String`",
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
        let references = reference::column_reference(c.reference.as_ref());
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
                references: #references,
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
    let sets = cols.iter().enumerate().map(|(i, c)| {
        let (f, stored, name) = (c.field, c.stored(), &c.name);
        let unwrap = if c.json { quote! { .map(|j| j.0) } } else { quote! {} };
        quote! {
            #i => {
                self.#f = <#stored as ::relata::ColumnType>::read(row, idx)#unwrap.map_err(|e| ::relata::Error::Decode {
                    table: #table,
                    column: #name,
                    reason: e.0,
                })?;
                ::core::result::Result::Ok(())
            }
        }
    });
    let fks = cols.iter().enumerate().filter_map(|(i, c)| {
        let r = c.reference.as_ref()?;
        Some(reference::expand(&Fk {
            ident,
            table: &table,
            pk_name: &pk_name,
            field: c.field,
            ty: c.ty,
            column: &c.name,
            index: i,
            nullable: c.optional,
            r,
        }))
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

    let key = match chosen {
        None => KeyParts {
            id_type: quote! { i64 },
            chosen_key: quote! { ::core::option::Option::None },
            id: quote! { self.#pk_field },
            set_id: quote! { self.#pk_field = id; },
            key_value: quote! {
                match self.#pk_field {
                    ::core::option::Option::Some(id) => ::relata::ValueRef::Integer(id),
                    ::core::option::Option::None => ::relata::ValueRef::Null,
                }
            },
            primary_key: quote! { self.#pk_field },
            read: quote! { ::core::option::Option::Some(id) },
        },
        Some(ty) => KeyParts {
            id_type: quote! { #ty },
            chosen_key: quote! {
                ::core::option::Option::Some(<#ty as ::relata::ColumnType>::SQL_TYPE)
            },
            // (`type Id = #ty` checks that it is a `KeyType`, at the field's type.)
            id: quote! { ::core::option::Option::None },
            set_id: quote! { let _ = id; },
            key_value: quote! { ::relata::ColumnType::to_value(&self.#pk_field) },
            primary_key: quote! {
                ::core::option::Option::Some(::core::clone::Clone::clone(&self.#pk_field))
            },
            read: quote! {{
                let _ = id;
                <#ty as ::relata::ColumnType>::read(row, start - 1).map_err(|e| ::relata::Error::Decode {
                    table: #table,
                    column: #pk_name,
                    reason: e.0,
                })?
            }},
        },
    };
    let KeyParts {
        id_type,
        chosen_key,
        id: id_body,
        set_id: set_id_body,
        key_value,
        primary_key,
        read: key_read,
    } = key;
    let pk_copy = match chosen {
        None => quote! { self.#pk_field },
        Some(_) => quote! { ::core::clone::Clone::clone(&self.#pk_field) },
    };

    Ok(quote! {
        #(#checks)*

        impl ::relata::Model for #ident {
            type Id = #id_type;

            const TABLE: &'static ::relata::TableDef = &::relata::TableDef {
                name: #table,
                model: #model_name,
                primary_key: #pk_name,
                chosen_key: #chosen_key,
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
                #id_body
            }

            fn set_id(&mut self, id: ::core::option::Option<i64>) {
                #set_id_body
            }

            fn key_value(&self) -> ::relata::ValueRef<'_> {
                #key_value
            }

            fn primary_key(&self) -> ::core::option::Option<#id_type> {
                #primary_key
            }

            fn value(&self, column: usize) -> ::relata::ValueRef<'_> {
                match column {
                    #(#values)*
                    _ => panic!("{} has {} columns, not {}", #model_name, #columns_len, column + 1),
                }
            }

            fn from_row(id: i64, row: &dyn ::relata::RowSource, start: usize) -> ::relata::Result<Self> {
                ::core::result::Result::Ok(Self {
                    #pk_field: #key_read,
                    #(#reads)*
                })
            }

            fn set_value(&mut self, column: usize, row: &dyn ::relata::RowSource, idx: usize) -> ::relata::Result<()> {
                match column {
                    #(#sets)*
                    _ => panic!("{} has {} columns, not {}", #model_name, #columns_len, column + 1),
                }
            }

            fn snapshot(&self) -> Self {
                Self {
                    #pk_field: #pk_copy,
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
            #vis const #pk_const: ::relata::Column<#ident, #id_type> = ::relata::Column::new(#pk_name);
            #(#consts)*
        }

        #(#fks)*
    })
}

/// The parts of a model's impl that depend on how its primary key is chosen.
struct KeyParts {
    /// `Model::Id`.
    id_type: TokenStream,
    /// `TableDef::chosen_key`.
    chosen_key: TokenStream,
    /// The bodies of `id`, `set_id`, `key_value` and `primary_key`.
    id: TokenStream,
    set_id: TokenStream,
    key_value: TokenStream,
    primary_key: TokenStream,
    /// The key field's value in `from_row`.
    read: TokenStream,
}
