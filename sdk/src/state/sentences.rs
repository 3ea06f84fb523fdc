//! The sentences of the sync status ([`SyncStatus::Error`] and
//! [`SyncStatus::NeedsLogin`] messages) in the device's locale: English,
//! Spanish and Hungarian, one per [`SyncErrorCause`]. The language is the
//! first subtag of the store's locale (`es-ES` is Spanish); any other
//! language gets English. Only the sentence is translated: in English the
//! technical detail (the [`SdkError`]'s own words, English only) follows
//! after a colon; the other languages leave it out.
//!
//! [`SyncStatus::Error`]: super::SyncStatus::Error
//! [`SyncStatus::NeedsLogin`]: super::SyncStatus::NeedsLogin

use super::status::SyncErrorCause;
use crate::error::SdkError;

/// A language the sentences exist in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Language {
    /// English, also for every language not below.
    #[default]
    En,
    /// Spanish.
    Es,
    /// Hungarian.
    Hu,
}

impl Language {
    /// Every language, for tests.
    #[cfg(test)]
    pub(crate) const ALL: [Language; 3] = [Language::En, Language::Es, Language::Hu];

    /// The language of a BCP 47 tag (`es`, `es-ES`, `hu_HU`), case-blind.
    pub(crate) fn of(locale: &str) -> Language {
        let primary = locale.split(['-', '_']).next().unwrap_or("");
        match primary.to_ascii_lowercase().as_str() {
            "es" => Language::Es,
            "hu" => Language::Hu,
            _ => Language::En,
        }
    }
}

/// The status message for a failure: the sentence for `cause` in
/// `language`, and in English the error's detail after a colon.
pub(crate) fn message(language: Language, cause: SyncErrorCause, error: &SdkError) -> String {
    let sentence = sentence(language, cause);
    match language {
        Language::En => format!("{sentence}: {error}"),
        Language::Es | Language::Hu => format!("{sentence}."),
    }
}

/// The sentence for `cause` in `language` (no final stop).
pub(crate) fn sentence(language: Language, cause: SyncErrorCause) -> &'static str {
    match language {
        Language::En => english(cause),
        Language::Es => spanish(cause),
        Language::Hu => hungarian(cause),
    }
}

fn english(cause: SyncErrorCause) -> &'static str {
    use SyncErrorCause as C;
    match cause {
        C::Network => "Could not reach the server; check the connection",
        C::Timeout => "The server took too long to answer",
        C::Tls => "The secure connection to the server failed; check the server settings",
        C::ServerRefused => "The server refused to sync",
        C::Protocol => "The server sent something this app cannot read; update the app",
        C::Storage => "This device's storage or keystore could not be used",
        C::BadServerUrl => "The server address is not valid",
        C::SignedOut => "Please sign in again",
        C::Other => "Sync failed",
    }
}

fn spanish(cause: SyncErrorCause) -> &'static str {
    use SyncErrorCause as C;
    match cause {
        C::Network => "No se pudo conectar con el servidor; comprueba la conexión",
        C::Timeout => "El servidor tardó demasiado en responder",
        C::Tls => "Falló la conexión segura con el servidor; revisa la configuración del servidor",
        C::ServerRefused => "El servidor rechazó la sincronización",
        C::Protocol => {
            "El servidor envió algo que esta aplicación no entiende; actualiza la aplicación"
        }
        C::Storage => "No se pudo usar el almacenamiento o el llavero de este dispositivo",
        C::BadServerUrl => "La dirección del servidor no es válida",
        C::SignedOut => "Vuelve a iniciar sesión",
        C::Other => "La sincronización falló",
    }
}

fn hungarian(cause: SyncErrorCause) -> &'static str {
    use SyncErrorCause as C;
    match cause {
        C::Network => "Nem sikerült elérni a szervert; ellenőrizze a kapcsolatot",
        C::Timeout => "A szerver túl sokáig nem válaszolt",
        C::Tls => {
            "A biztonságos kapcsolat a szerverrel nem jött létre; ellenőrizze a szerver beállításait"
        }
        C::ServerRefused => "A szerver elutasította a szinkronizálást",
        C::Protocol => {
            "A szerver olyat küldött, amit ez az alkalmazás nem tud olvasni; frissítse az alkalmazást"
        }
        C::Storage => "Az eszköz tárhelye vagy kulcstára nem használható",
        C::BadServerUrl => "A szerver címe érvénytelen",
        C::SignedOut => "Kérjük, jelentkezzen be újra",
        C::Other => "A szinkronizálás nem sikerült",
    }
}
