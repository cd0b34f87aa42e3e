import nodemailer from 'nodemailer';

/**
 * The SMTP server behind one small interface: the mail loop hands it a message and learns
 * whether the server took it, refused it for good, or could not be reached or answered in time
 * (worth trying again). One nodemailer transport, one connection per message: a connection
 * dropped or refused fails that message alone, and the loop's retry schedule decides what next.
 */
export interface OutgoingMail {
  from: { name: string; address: string };
  to: string;
  replyTo?: string | undefined;
  subject: string;
  text: string;
  html: string;
  /** `<id@domain>`, the same on every attempt of one mail. */
  messageId: string;
  attachments: { filename: string; content: Buffer; contentType: string }[];
}

export interface MailTransport {
  /** Resolves once the server accepted the message; rejects with why not (see `refusal`). */
  send(mail: OutgoingMail, signal: AbortSignal): Promise<void>;
  close(): void;
}

export function smtpTransport(o: { url: string; timeoutMs: number }): MailTransport {
  const transport = nodemailer.createTransport({
    url: o.url,
    connectionTimeout: o.timeoutMs,
    greetingTimeout: o.timeoutMs,
    socketTimeout: o.timeoutMs,
    dnsTimeout: o.timeoutMs,
  });
  return {
    send: async (mail, signal) => {
      await transport.sendMail({
        from: mail.from,
        to: mail.to,
        ...(mail.replyTo === undefined ? {} : { replyTo: mail.replyTo }),
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        attachments: mail.attachments,
        // Marks it as sent by a system (RFC 3834): auto-responders do not answer it.
        headers: { 'Auto-Submitted': 'auto-generated' },
        signal,
      });
    },
    close: () => transport.close(),
  };
}

/**
 * Whether a failed send is refused for good, and why (for the row's last_error and the log). Only
 * a 5xx reply about this message — its recipient (RCPT TO) or its content (DATA) — is permanent:
 * trying again gets the same answer. Everything else can pass later: 4xx replies, a refused,
 * dropped or timed-out connection, and also a 5xx to the session or the sender (a login refused,
 * MAIL FROM refused), which is the server's configuration, not this mail's, and must not fail
 * every mail while an operator fixes it; those run out the retry schedule instead.
 */
export function refusal(e: unknown): { permanent: boolean; reason: string } {
  const err = (typeof e === 'object' && e !== null ? e : {}) as { message?: unknown; code?: unknown; command?: unknown; responseCode?: unknown; permanent?: unknown };
  const message = typeof err.message === 'string' ? err.message : String(e);
  const code = typeof err.code === 'string' ? err.code : undefined;
  const command = typeof err.command === 'string' ? err.command : undefined;
  const aboutThisMail = (code === 'EENVELOPE' && command !== 'MAIL FROM') || code === 'EMESSAGE';
  // An address nodemailer itself refuses (no reply code) would be refused again too.
  const invalidAddress = code === 'EENVELOPE' && command === 'API';
  const permanent = aboutThisMail && (err.permanent === true || invalidAddress);
  return { permanent, reason: `${code === undefined ? '' : `${code}: `}${message}`.slice(0, 1000) };
}
