//! `#[derive(Row)]`: a struct one row of a select or a raw query reads into, its fields the
//! selected values in order.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Row)] does not support generic structs",
        ));
    }
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => &f.named,
            _ => {
                return Err(syn::Error::new(
                    ident.span(),
                    "#[derive(Row)] applies to structs with named fields",
                ))
            }
        },
        _ => {
            return Err(syn::Error::new(
                ident.span(),
                "#[derive(Row)] applies to structs with named fields",
            ))
        }
    };
    if fields.is_empty() || fields.len() > 8 {
        return Err(syn::Error::new(
            ident.span(),
            "#[derive(Row)] reads one to eight values: a select reads at most eight",
        ));
    }
    let names: Vec<_> = fields
        .iter()
        .map(|f| f.ident.clone().expect("named"))
        .collect();
    let types: Vec<_> = fields.iter().map(|f| &f.ty).collect();
    let vars: Vec<_> = (0..fields.len()).map(|i| format_ident!("v{i}")).collect();
    let idx = 0..fields.len();
    let checks = types.iter().map(|ty| {
        quote! { const _: () = ::relata::__private::assert_column_type::<#ty>(); }
    });
    Ok(quote! {
        #(#checks)*

        impl ::core::convert::From<(#(#types,)*)> for #ident {
            fn from((#(#vars,)*): (#(#types,)*)) -> Self {
                #ident { #(#names: #vars),* }
            }
        }

        impl ::relata::FromRow for #ident {
            fn from_row(
                row: &dyn ::relata::RowSource,
            ) -> ::core::result::Result<Self, (usize, ::relata::DecodeError)> {
                ::core::result::Result::Ok(#ident {
                    #(#names: <#types as ::relata::ColumnType>::read(row, #idx).map_err(|e| (#idx, e))?,)*
                })
            }
        }
    })
}
