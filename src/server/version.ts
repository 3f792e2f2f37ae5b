/** Legate's version, printed by --version and /server_info. */
export const VERSION = '0.1.0';
/** The Envoy API Legate speaks. */
export const API_VERSION = 'v3';
