use super::*;

#[test]
fn ordinary_loads_pass_straight_through() {
    assert_eq!(
        route(0, Some(b"/usr/lib/x.so"), libc::RTLD_NOW),
        Route::PassThrough
    );
    assert_eq!(
        route(0, Some(b"libx.so"), libc::RTLD_LAZY | libc::RTLD_GLOBAL),
        Route::PassThrough
    );
    assert_eq!(
        route(0, None, libc::RTLD_NOW | RTLD_DEEPBIND),
        Route::PassThrough
    );
}

#[test]
fn deepbind_by_path_is_patched() {
    let php = libc::RTLD_LAZY | libc::RTLD_GLOBAL | RTLD_DEEPBIND;
    assert_eq!(
        route(0, Some(b"/usr/lib/php/20220829/sockets.so"), php),
        Route::Patch
    );
    assert_eq!(route(0, Some(b"./ext.so"), php), Route::Patch);
}

#[test]
fn deepbind_by_name_or_origin_keeps_the_callers_search() {
    assert_eq!(
        route(0, Some(b"libfoo.so"), RTLD_DEEPBIND),
        Route::DeepbindByName
    );
    assert_eq!(
        route(0, Some(b"$ORIGIN/libfoo.so"), RTLD_DEEPBIND),
        Route::DeepbindByName
    );
}

#[test]
fn other_namespaces_are_not_reached() {
    assert_eq!(
        route(-1 /* LM_ID_NEWLM */, Some(b"/x.so"), libc::RTLD_NOW),
        Route::OtherNamespace
    );
    assert_eq!(
        route(3, Some(b"/x.so"), RTLD_DEEPBIND),
        Route::OtherNamespace
    );
}

#[test]
fn short_names() {
    assert_eq!(
        short_name(b"/usr/lib/php/20220829/sockets.so"),
        b"sockets.so"
    );
    assert_eq!(short_name(b"libpq.so.5"), b"libpq.so.5");
}
