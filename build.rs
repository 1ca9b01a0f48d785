//! Build script: in the `dynamic-backends` build (the installed package),
//! the binaries find llama.cpp's shared libraries in `../lib/omnidesk`
//! relative to themselves (`/usr/bin` → `/usr/lib/omnidesk`), wherever the
//! package is unpacked. DT_RPATH rather than RUNPATH, so the libraries'
//! own dependencies on each other resolve there too. The static build
//! needs nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_DYNAMIC_BACKENDS").is_some() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib/omnidesk"
        );
    }
}
