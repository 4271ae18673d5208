// Package notify owns mfad's outbound messages: it renders a Notice into an
// email from templates and sends it over SMTP, sends text messages through
// an SMS gateway, and signs and posts webhook bodies.
//
// It knows nothing about users, factors or the database. The service
// decides who hears of what, fills in a Notice, and calls Render and Send;
// queueing and retrying (the outbox) are the service's too. A Notice never
// carries a code, pass, token or secret, and no error from this package
// holds a password, an auth token, an SMS text or an email body.
//
// # Email
//
// NewSMTP takes an smtp:// or smtps:// URL and a TLS policy. STARTTLS is
// mandatory unless the configuration says otherwise, clear text is only for
// a loopback host, and credentials never cross a connection without TLS
// unless the host is loopback. Each Send opens its own connection.
//
// # Templates
//
// Templates live in templates/ (embedded) and may be overridden, file by
// file, from a directory given to LoadTemplates. For an event type TYPE:
//
//   - TYPE.txt (text/template) defines "subject", "headline" (one or two
//     sentences: what happened), "advice" (what to do if it was not you)
//     and "body" (the plain-text part).
//   - TYPE.html (html/template, escaped by context) defines "body", the
//     whole HTML document.
//
// A type's file is parsed over a copy of default.txt or default.html, so it
// defines only what it changes; the embedded type files define "subject",
// "headline" and "advice" and share the default bodies, which lay out the
// time, actor, source, front door and Facts, the ReportURL when it is set,
// and a line for a security contact or an old address. A type without a
// file of a kind uses the default of that kind.
//
// Render runs "subject", "headline" and "advice" first and gives their
// trimmed output to both bodies as .Subject, .Headline and .Advice, so the
// HTML part needs no copy of the wording; the subject is folded to one line.
// Every template sees the Notice's fields (.Issuer, .User, .Facts, .Data,
// ...) and the functions "when" (formats a time) and "frontDoor" (names a
// front door). The default text templates also define "account" and
// "Account": "your account", or "the account NAME" for a security contact.
// A file with text outside {{define}} is refused, since that text would
// never be shown.
//
// # SMS
//
// SMS is one method; NewWebhookSMS posts to any HTTP gateway from a body
// template and NewTwilioSMS uses Twilio's Messages API. Numbers are E.164
// (NormalizePhone).
//
// # Webhooks
//
// PostWebhook sends a JSON body with a Mfad-Signature header made by Sign
// ("t=<unix>,v1=<hex HMAC-SHA256>") and a Mfad-Event-Id header for
// receivers to drop duplicates, since delivery is at least once.
// VerifySignature is the receiving side's check.
package notify
