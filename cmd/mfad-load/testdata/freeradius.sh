#!/bin/sh
# Usage: freeradius.sh DIR PORT SECRET USER PASSWORD
#
# Makes DIR a private copy of Debian's FreeRADIUS 3.2 configuration
# (/etc/freeradius/3.0, from the Debian package freeradius) that answers
# PAP for one static user, for mfad-load --mode static to measure beside
# mfad. Nothing outside DIR changes. Its one client is 127.0.0.1 with
# SECRET, and must send a Message-Authenticator; USER's password is
# PASSWORD, checked in clear by the files and pap modules, which write
# nothing. The default site listens on 127.0.0.1, PORT for authentication
# and PORT+1 for accounting, and on nothing else. Run as root, with DIR an
# absolute path whose parents the user freerad may enter; then start the
# server with
#
#   freeradius -d DIR -f -l DIR/log/radius.log
#
# and stop it with Ctrl-C.
set -eu
[ $# -eq 5 ] || { echo "usage: $0 DIR PORT SECRET USER PASSWORD" >&2; exit 2; }
dir=$1 port=$2 secret=$3 user=$4 password=$5

mkdir -p "$dir"
cp -a /etc/freeradius/3.0/. "$dir"
mkdir -p "$dir/log" "$dir/run"
# Paths into DIR rather than /etc, /var/log and /var/run.
sed -i -e "s|^raddbdir = .*|raddbdir = $dir|" \
	-e "s|^logdir = .*|logdir = $dir/log|" \
	-e "s|^run_dir = .*|run_dir = $dir/run|" "$dir/radiusd.conf"

# The default site with its listen sections (every address, ports 1812
# and 1813, IPv4 and IPv6) replaced by one for auth and one for acct.
site=$dir/sites-available/default
awk -v port="$port" '
	# Braces are counted outside comments only.
	{ code = $0; sub(/#.*/, "", code) }
	!skip && code ~ /^[ \t]*listen[ \t]*\{/ { skip = 1; base = depth }
	!skip { print }
	code ~ /^server default[ \t]*\{/ {
		printf "listen {\n\ttype = auth\n\tipaddr = 127.0.0.1\n\tport = %d\n}\n", port
		printf "listen {\n\ttype = acct\n\tipaddr = 127.0.0.1\n\tport = %d\n}\n", port + 1
	}
	{ depth += gsub(/\{/, "{", code) - gsub(/\}/, "}", code) }
	skip && depth == base { skip = 0 }
' "$site" >"$site.new"
mv "$site.new" "$site"

cat >"$dir/clients.conf" <<CLIENTS
client load {
	ipaddr = 127.0.0.1
	secret = "$secret"
	require_message_authenticator = yes
}
CLIENTS

# The static user goes first in the users file.
{
	printf '"%s" Cleartext-Password := "%s"\n\n' "$user" "$password"
	cat "$dir/mods-config/files/authorize"
} >"$dir/authorize.new"
mv "$dir/authorize.new" "$dir/mods-config/files/authorize"

# The server drops root for freerad once it has read its configuration.
chown -R freerad:freerad "$dir"
chmod 0750 "$dir"
