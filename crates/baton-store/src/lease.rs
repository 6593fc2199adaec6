//! Named leases, the same SQL on both backends.

/// Takes the lease `$1` for holder `$2` until `$4` when it is free, expired at `$3`, already held
/// by `$2`, or held by `$5` (a holder known to be dead). The epoch grows when the holder changes.
pub(crate) const ACQUIRE: &str = "INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($1, $2, 1, $4) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, \
     epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END \
     WHERE leases.holder = excluded.holder OR leases.expires_at <= $3 OR leases.holder = CAST($5 AS TEXT) \
     RETURNING holder, epoch, expires_at";

/// Extends the lease `$1` of holder `$2` at epoch `$3` until `$4`; no row when it was lost.
pub(crate) const RENEW: &str = "UPDATE leases SET expires_at = $4 WHERE name = $1 AND holder = $2 AND epoch = $3";

/// Gives the lease `$1` up if holder `$2` has it.
pub(crate) const RELEASE: &str = "UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2";

pub(crate) const GET: &str = "SELECT holder, epoch, expires_at FROM leases WHERE name = $1";
