import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/**
 * A real SMTP server (smtp-server) on loopback for the mail tests, answering from a script: per
 * connection, it may drop the socket as the client connects, refuse MAIL FROM or a recipient
 * with a reply code, or take the message's data and drop the socket before answering. Every
 * message it accepts is parsed (mailparser) and kept with its envelope.
 */
export interface SmtpScript {
  /** `drop`: the socket is destroyed before the greeting. `n` counts connections from 1. */
  connect?(n: number): 'drop' | undefined;
  /** A reply code to refuse MAIL FROM with; `n` counts MAIL FROM commands from 1. */
  mailFrom?(n: number): number | undefined;
  /** A reply code to refuse this recipient with; `n` counts RCPT TO commands from 1. */
  rcptTo?(address: string, n: number): number | undefined;
  /** `drop`: the whole message is read, then the socket destroyed before any reply; a number refuses it with that code. */
  data?(n: number): 'drop' | number | undefined;
}

export interface Received {
  to: string[];
  mail: ParsedMail;
}

export interface TestSmtp {
  url: string;
  received: Received[];
  script: SmtpScript;
  /** What each phase has seen since the last reset. */
  counts: { connect: number; mailFrom: number; rcptTo: number; data: number };
  reset(script?: SmtpScript): void;
  close(): Promise<void>;
}

const refuse = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

export async function startTestSmtp(): Promise<TestSmtp> {
  const smtp: TestSmtp = {
    url: '',
    received: [],
    script: {},
    counts: { connect: 0, mailFrom: 0, rcptTo: 0, data: 0 },
    reset: (script = {}) => {
      smtp.script = script;
      smtp.counts = { connect: 0, mailFrom: 0, rcptTo: 0, data: 0 };
    },
    close: () => Promise.resolve(),
  };
  // The connection of a session, to drop its socket: smtp-server keeps its connections in a set.
  const socketOf = (session: SMTPServerSession): Socket | undefined =>
    [...(server as unknown as { connections: Set<{ id: string; _socket: Socket }> }).connections].find((c) => c.id === session.id)?._socket;
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    onConnect(session, callback) {
      if (smtp.script.connect?.(++smtp.counts.connect) === 'drop') {
        socketOf(session)?.destroy();
        return;
      }
      callback();
    },
    onMailFrom(_address, _session, callback) {
      const code = smtp.script.mailFrom?.(++smtp.counts.mailFrom);
      callback(code === undefined ? null : refuse(code, code < 500 ? 'Try again later' : 'Sender refused'));
    },
    onRcptTo(address, _session, callback) {
      const code = smtp.script.rcptTo?.(address.address, ++smtp.counts.rcptTo);
      callback(code === undefined ? null : refuse(code, code < 500 ? 'Mailbox busy, try again later' : 'No such user here'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const what = smtp.script.data?.(++smtp.counts.data);
        if (what === 'drop') {
          socketOf(session)?.destroy();
          return;
        }
        if (typeof what === 'number') {
          callback(refuse(what, 'Message refused'));
          return;
        }
        const to = session.envelope.rcptTo.map((r) => r.address);
        simpleParser(Buffer.concat(chunks))
          .then((mail) => {
            smtp.received.push({ to, mail });
            callback();
          })
          .catch((e: unknown) => callback(e instanceof Error ? e : new Error(String(e))));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  smtp.url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  smtp.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return smtp;
}
