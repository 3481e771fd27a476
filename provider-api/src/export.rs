//! The `export_provider!` macro: one call turns provider types into a loadable library.

/// Export one or more [`Provider`](crate::Provider) types as this library's root module.
///
/// Call it exactly once, at the top level of a crate built with `crate-type = ["cdylib"]`.
/// The macro writes the abi_stable root module for you, so the author's crate needs no
/// abi_stable dependency. Every call into the library (metadata, constructor and each
/// provider method) runs inside `catch_unwind`: a panic becomes an error value carrying the
/// panic message, because a panic reaching the boundary would abort the host process.
///
/// ```
/// use cronhost_provider_api::{export_provider, Host, Provider, ProviderConfig, ProviderError, StartOptions, Stop};
///
/// struct Quiet;
///
/// impl Provider for Quiet {
///     const NAME: &'static str = "quiet";
///     fn new(_config: ProviderConfig) -> Result<Self, ProviderError> {
///         Ok(Quiet)
///     }
///     fn start(&self, _host: Host, stop: Stop, _options: StartOptions) -> Result<(), ProviderError> {
///         while !stop.wait(std::time::Duration::from_secs(1)) {}
///         Ok(())
///     }
/// }
///
/// export_provider!(Quiet);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_provider {
    ($($provider:ty),+ $(,)?) => {
        /// The abi_stable library header: the symbol the host looks up to load this library.
        /// Its name is abi_stable 0.11's mangled root-module loader name.
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        #[unsafe(no_mangle)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::LibHeader = {
            extern "C" fn __cronhost_erased_module() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(__cronhost_root_module)
            }
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::ffi::ProviderLibraryRef>(
                    __cronhost_erased_module,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };

        fn __cronhost_root_module() -> $crate::ffi::ProviderLibraryRef {
            $crate::__private::root_module(__cronhost_metadata, __cronhost_new_provider)
        }

        extern "C" fn __cronhost_metadata() -> $crate::ffi::LibraryMetadata {
            $crate::__private::metadata(
                env!("CARGO_PKG_VERSION"),
                || ::std::vec![$($crate::__private::info::<$provider>()),+],
            )
        }

        extern "C" fn __cronhost_new_provider(
            name: $crate::__private::RStr<'_>,
            config_json: $crate::__private::RStr<'_>,
        ) -> $crate::__private::RResult<$crate::ffi::ProviderBox, $crate::__private::RString> {
            $crate::__private::contain("constructor", || {
                let name = name.as_str();
                $(
                    if name == <$provider as $crate::Provider>::NAME {
                        return $crate::__private::construct::<$provider>(config_json.as_str());
                    }
                )+
                ::std::result::Result::Err(::std::format!(
                    "this library offers no provider named `{name}`"
                ))
            })
        }
    };
}
