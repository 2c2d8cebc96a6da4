//! `#[derive(Association)]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, LitStr, Path};

use crate::attrs::{items, named_fields, snake_case};

struct Side<'a> {
    field: &'a syn::Ident,
    /// The field's type, which must be the referenced model's key type.
    ty: &'a syn::Type,
    column: String,
    model: Path,
    relation: LitStr,
    order_by: Option<LitStr>,
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
    let mut sides = Vec::new();
    for f in named_fields(input, "Association")? {
        let field = f.ident.as_ref().expect("named");
        let (mut model, mut relation, mut order_by) = (None, None, None);
        let mut column = field.to_string();
        for item in items(&f.attrs)? {
            match item.key.to_string().as_str() {
                "references" => model = Some(item.path()?),
                "relation" => relation = Some(item.string()?),
                "order_by" => order_by = Some(item.string()?),
                "column" => column = item.string()?.value(),
                _ => {
                    return Err(syn::Error::new(
                        item.key.span(),
                        "unknown attribute; expected references = Model, relation = \"...\", order_by = \"...\" or column = \"...\"",
                    ))
                }
            }
        }
        let Some(model) = model else {
            return Err(syn::Error::new(
                f.span(),
                format!(
                    "`{field}` is not a key of the association: extra columns (association objects, such as an enrollment date) are not supported yet; every field needs #[relata(references = Model, relation = \"name\")]"
                ),
            ));
        };
        let Some(relation) = relation else {
            return Err(syn::Error::new(
                f.span(),
                "name the relationship this side gets: #[relata(references = Model, relation = \"name\")]",
            ));
        };
        if syn::parse_str::<syn::Ident>(&relation.value()).is_err() {
            return Err(syn::Error::new(
                relation.span(),
                "a relation name must be a Rust identifier (it becomes a method)",
            ));
        }
        sides.push(Side {
            field,
            ty: &f.ty,
            column,
            model,
            relation,
            order_by,
        });
    }
    if sides.len() != 2 {
        return Err(syn::Error::new(
            ident.span(),
            format!(
                "an association has exactly two key fields, one per side; found {}",
                sides.len()
            ),
        ));
    }
    let (l, r) = (&sides[0], &sides[1]);
    if l.column == r.column {
        return Err(syn::Error::new(
            r.field.span(),
            format!("both sides use column `{}`", r.column),
        ));
    }
    let same_model =
        l.model.segments.last().map(|s| &s.ident) == r.model.segments.last().map(|s| &s.ident);
    if same_model && l.relation.value() == r.relation.value() {
        return Err(syn::Error::new(
            r.relation.span(),
            format!(
                "both sides name the relation `{}` on the same model; give each direction its own name (e.g. \"friends\" and \"friend_of\")",
                r.relation.value()
            ),
        ));
    }

    let name = ident.to_string();
    let side_def = |s: &Side, other: &Side| {
        let (column, model, relation) = (&s.column, &s.model, &s.relation);
        let other_model = &other.model;
        let order = match &s.order_by {
            None => quote!(::core::option::Option::None),
            Some(o) => {
                let konst = format_ident!("{}", o.value().to_uppercase(), span = o.span());
                quote!(::core::option::Option::Some(<#other_model>::#konst.name()))
            }
        };
        quote! {
            ::relata::AssocSide {
                column: #column,
                table: <#model as ::relata::Model>::TABLE,
                relation: #relation,
                order_by: #order,
            }
        }
    };
    let (left, right) = (side_def(l, r), side_def(r, l));
    let method = |s: &Side, other: &Side, from: proc_macro2::TokenStream| {
        let (model, other_model) = (&s.model, &other.model);
        let f = format_ident!("{}", s.relation.value(), span = s.relation.span());
        let doc = format!(
            "The `{}` relationship: the `{}`s linked through `{}` (declared by `{}`).",
            s.relation.value(),
            quote!(#other_model).to_string().replace(' ', ""),
            table,
            name
        );
        quote! {
            impl #model {
                #[doc = #doc]
                pub const fn #f() -> ::relata::Relation<#model, #other_model> {
                    ::relata::Relation::new(<#ident as ::relata::Association>::ASSOC, #from)
                }
            }
        }
    };
    let (lm, rm) = (
        method(l, r, quote!(::relata::Side::Left)),
        method(r, l, quote!(::relata::Side::Right)),
    );
    let (lmodel, rmodel) = (&l.model, &r.model);
    // Each key field has the type of the key it references (`Model::Id`): `i64` for a generated
    // key, `String` for a text key...; a mismatch is a type error at the field.
    let key_of = |s: &Side| {
        let (f, model) = (s.field, &s.model);
        quote_spanned! {s.ty.span()=>
            {
                let key: &<#model as ::relata::Model>::Id = &self.#f;
                key
            }
        }
    };
    let (lk, rk) = (key_of(l), key_of(r));
    Ok(quote! {
        const _: () = {
            ::relata::__private::assert_model::<#lmodel>();
            ::relata::__private::assert_model::<#rmodel>();
        };

        impl ::relata::Association for #ident {
            const ASSOC: &'static ::relata::AssocDef = &::relata::AssocDef {
                table: #table,
                name: #name,
                left: #left,
                right: #right,
                slot: {
                    fn slot() -> usize {
                        static SLOT: ::relata::__private::Slot = ::relata::__private::Slot::new();
                        SLOT.get()
                    }
                    slot
                },
                storage: ::relata::Storage::Table,
            };
        }

        impl ::relata::Entity for #ident {
            const ENTITY: ::relata::EntityDef = ::relata::EntityDef::Association(<Self as ::relata::Association>::ASSOC);
        }

        // Known to every session, so deleting an object removes its pairs here.
        ::relata::__private::inventory::submit! {
            ::relata::__private::Registered(<#ident as ::relata::Association>::ASSOC)
        }

        // The struct is a declaration: its fields are never read at run time. Reading them here
        // keeps users' dead-code lints quiet without an allow on their code.
        impl #ident {
            #[allow(dead_code)] // only here so the fields count as read (see above)
            #[doc(hidden)]
            fn __relata_keys(&self) -> (&<#lmodel as ::relata::Model>::Id, &<#rmodel as ::relata::Model>::Id) {
                (#lk, #rk)
            }
        }

        #lm
        #rm
    })
}
