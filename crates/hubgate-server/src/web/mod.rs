//! What every server-rendered page shares, one concern a file: the browser's
//! cookies (`cookies`), session (`session`) and CSRF tokens (`csrf`), the
//! request's view of them (`browser`), pages and their security
//! headers (`page`), the page error type (`error`), login (`login`; its throttle is `crate::limits::logins`), and the
//! static assets (`assets`). Used by the authorization pages and the console.

mod assets;
mod browser;
mod cookies;
mod csrf;
mod error;
mod login;
mod page;
mod session;
pub mod urls;

pub use crate::limits::LoginThrottle;
pub use assets::{CONSOLE_SCRIPT, STYLESHEET, console_script, stylesheet};
pub use browser::Browser;
pub use cookies::{CSRF_COOKIE, SESSION_COOKIE, SESSION_LIFETIME};
pub use error::{PageError, PageResult};
pub use login::{LOGIN_BUSY, LoginOutcome, LoginPage, LoginRefused, attempt_login, retry_soon};
pub use page::{
    Page, WebForm, error_page, origin_of, security_headers, see_other, unavailable_page,
};
