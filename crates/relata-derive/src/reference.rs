//! A model's foreign key field (`#[relata(references = Teacher, relation = "teacher", inverse =
//! "courses")]`): its checks and what it adds to `#[derive(Model)]`: the column's
//! `Reference`, the relation seen as pairs (`AssocDef` with `Storage::ForeignKey`), and a
//! relation handle on each side (`Course::teacher()`, `Teacher::courses()`).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{LitStr, Path};

/// What a foreign key field declares.
pub struct Ref {
    /// The referenced model.
    pub model: Path,
    /// The relation on this model (`teacher`).
    pub relation: LitStr,
    /// The relation on the referenced model (`courses`).
    pub inverse: LitStr,
    /// `ON DELETE`: the variant of `relata::OnDelete`.
    pub on_delete: syn::Ident,
    /// `order_by = "field"`: a field of this model that orders the one-to-many's collections.
    pub order_by: Option<LitStr>,
    /// `delete_orphans`: a child unlinked from its parent is deleted.
    pub delete_orphans: bool,
}

/// The attributes of a foreign key field, gathered before they are checked together.
#[derive(Default)]
pub struct RefAttrs {
    pub model: Option<Path>,
    pub relation: Option<LitStr>,
    pub inverse: Option<LitStr>,
    pub on_delete: Option<LitStr>,
    pub order_by: Option<LitStr>,
    pub delete_orphans: bool,
}

impl RefAttrs {
    /// Whether any foreign key attribute was given.
    pub fn any(&self) -> bool {
        self.model.is_some()
            || self.relation.is_some()
            || self.inverse.is_some()
            || self.on_delete.is_some()
            || self.order_by.is_some()
            || self.delete_orphans
    }

    /// Checks the attributes of the field `span` (whose type is an `Option` if `nullable`).
    pub fn finish(self, span: Span, nullable: bool) -> syn::Result<Option<Ref>> {
        if !self.any() {
            return Ok(None);
        }
        let Some(model) = self.model else {
            return Err(syn::Error::new(
                span,
                "`relation`, `inverse`, `on_delete`, `order_by` and `delete_orphans` go with a foreign key: add `references = Model`",
            ));
        };
        let (Some(relation), Some(inverse)) = (self.relation, self.inverse) else {
            return Err(syn::Error::new(
                span,
                "name the relation on each side: #[relata(references = Teacher, relation = \"teacher\", inverse = \"courses\")]",
            ));
        };
        for name in [&relation, &inverse] {
            if syn::parse_str::<syn::Ident>(&name.value()).is_err() {
                return Err(syn::Error::new(
                    name.span(),
                    "a relation name must be a Rust identifier (it becomes a method)",
                ));
            }
        }
        let on_delete = match self.on_delete.as_ref().map(LitStr::value).as_deref() {
            None | Some("no action") => "NoAction",
            Some("restrict") => "Restrict",
            Some("cascade") => "Cascade",
            Some("set null") if nullable => "SetNull",
            Some("set null") => {
                return Err(syn::Error::new(
                    span,
                    "`on_delete = \"set null\"` needs a nullable foreign key: make the field an `Option`",
                ))
            }
            Some(_) => {
                return Err(syn::Error::new(
                    self.on_delete.expect("matched").span(),
                    "expected on_delete = \"cascade\", \"set null\", \"restrict\" or \"no action\"",
                ))
            }
        };
        Ok(Some(Ref {
            model,
            relation,
            inverse,
            on_delete: format_ident!("{on_delete}"),
            order_by: self.order_by,
            delete_orphans: self.delete_orphans,
        }))
    }
}

/// The `references` field of a column's `ColumnDef`.
pub fn column_reference(r: Option<&Ref>) -> TokenStream {
    match r {
        None => quote!(::core::option::Option::None),
        Some(r) => {
            let (model, on_delete) = (&r.model, &r.on_delete);
            quote! {
                ::core::option::Option::Some(::relata::Reference {
                    table: {
                        fn table() -> &'static ::relata::TableDef {
                            <#model as ::relata::Model>::TABLE
                        }
                        table
                    },
                    on_delete: ::relata::OnDelete::#on_delete,
                })
            }
        }
    }
}

/// One foreign key of model `ident`, for [`expand`].
pub struct Fk<'a> {
    pub ident: &'a syn::Ident,
    pub table: &'a str,
    pub pk_name: &'a str,
    pub field: &'a syn::Ident,
    pub ty: &'a syn::Type,
    pub column: &'a str,
    pub index: usize,
    pub nullable: bool,
    pub r: &'a Ref,
}

/// The items a foreign key adds: a type check of the field, the pairs' `AssocDef`, and the
/// relation handles on both models.
pub fn expand(fk: &Fk<'_>) -> TokenStream {
    let Fk {
        ident,
        table,
        pk_name,
        field,
        ty,
        column,
        index,
        nullable,
        r,
    } = fk;
    let model = &r.model;
    let konst = format_ident!("__RELATA_FK_{}", field.to_string().to_uppercase());
    let check = format_ident!("__relata_fk_{}", field);
    let key = if *nullable {
        quote_spanned! {ty.span()=> ::core::option::Option<<#model as ::relata::Model>::Id> }
    } else {
        quote_spanned! {ty.span()=> <#model as ::relata::Model>::Id }
    };
    let (relation, inverse, orphans) = (&r.relation, &r.inverse, r.delete_orphans);
    let order = match &r.order_by {
        None => quote!(::core::option::Option::None),
        Some(o) => {
            let c = format_ident!("{}", o.value().to_uppercase(), span = o.span());
            quote!(::core::option::Option::Some(<#ident>::#c.name()))
        }
    };
    let name = format!("{ident}.{}", relation.value());
    let rel_fn = format_ident!("{}", relation.value(), span = relation.span());
    let inv_fn = format_ident!("{}", inverse.value(), span = inverse.span());
    let model_name = quote!(#model).to_string().replace(' ', "");
    let rel_doc = format!(
        "The `{}` relationship: the `{model_name}` this `{ident}` references by `{column}` (many-to-one).",
        relation.value()
    );
    let inv_doc = format!(
        "The `{}` relationship: the `{ident}`s whose `{column}` references this `{model_name}` (one-to-many).",
        inverse.value()
    );
    // The field holds the referenced model's key: a mismatch is a type error at its type.
    let check = quote_spanned! {ty.span()=>
        #[allow(dead_code)] // never called: it exists to be type-checked
        #[doc(hidden)]
        fn #check(&self) -> &#key {
            &self.#field
        }
    };
    quote! {
        impl #ident {
            #check

            #[doc(hidden)]
            pub const #konst: &'static ::relata::AssocDef = &::relata::AssocDef {
                table: #table,
                name: #name,
                left: ::relata::AssocSide {
                    column: #pk_name,
                    table: <#ident as ::relata::Model>::TABLE,
                    relation: #relation,
                    order_by: ::core::option::Option::None,
                },
                right: ::relata::AssocSide {
                    column: #column,
                    table: <#model as ::relata::Model>::TABLE,
                    relation: #inverse,
                    order_by: #order,
                },
                slot: {
                    fn slot() -> usize {
                        static SLOT: ::relata::__private::Slot = ::relata::__private::Slot::new();
                        SLOT.get()
                    }
                    slot
                },
                storage: ::relata::Storage::ForeignKey {
                    column: #index,
                    nullable: #nullable,
                    delete_orphans: #orphans,
                },
            };

            #[doc = #rel_doc]
            pub const fn #rel_fn() -> ::relata::Relation<#ident, #model> {
                ::relata::Relation::new(<#ident>::#konst, ::relata::Side::Left)
            }
        }

        // Known to every session, so deleting a parent finds the children it holds.
        ::relata::__private::inventory::submit! {
            ::relata::__private::RegisteredForeignKey(<#ident>::#konst)
        }

        impl #model {
            #[doc = #inv_doc]
            pub const fn #inv_fn() -> ::relata::Relation<#model, #ident> {
                ::relata::Relation::new(<#ident>::#konst, ::relata::Side::Right)
            }
        }
    }
}
