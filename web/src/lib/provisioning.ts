/** What a softphone needs to register: text for the QR code and a Linphone config file. */
export interface SipCredentials {
  username: string;
  password: string;
  realm: string;
  server: string; // host or host:port
}

/** The QR payload: a SIP URI with the password in the user part (read by most softphones'
 * "scan account" feature); the same fields are shown as text beside it. */
export function sipQrPayload(c: SipCredentials): string {
  const enc = (s: string) => encodeURIComponent(s);
  return `sip:${enc(c.username)}:${enc(c.password)}@${c.server}`;
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** A Linphone remote-provisioning XML with one account (import it or host it as a link). */
export function linphoneConfig(c: SipCredentials): string {
  const u = xmlEscape(c.username);
  const p = xmlEscape(c.password);
  const r = xmlEscape(c.realm);
  const s = xmlEscape(c.server);
  return `<?xml version="1.0" encoding="UTF-8"?>
<config xmlns="http://www.linphone.org/xsds/lpconfig.xsd">
  <section name="proxy_0">
    <entry name="reg_proxy">&lt;sip:${s};transport=udp&gt;</entry>
    <entry name="reg_identity">&lt;sip:${u}@${s}&gt;</entry>
    <entry name="reg_expires">300</entry>
    <entry name="reg_sendregister">1</entry>
  </section>
  <section name="auth_info_0">
    <entry name="username">${u}</entry>
    <entry name="passwd">${p}</entry>
    <entry name="realm">${r}</entry>
    <entry name="domain">${s}</entry>
  </section>
</config>
`;
}

export function downloadText(filename: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
