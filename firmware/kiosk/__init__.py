"""The canteen kiosk: an inmate logs in with a PIN and buys phone debit minutes out of the trust account."""
