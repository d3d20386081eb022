// A throwaway PKI for TLS tests: a CA, a server certificate for 127.0.0.1, and client certificates whose subject CN
// is a bank code. Made with the openssl command line, in a temporary folder.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestPki {
  ca: Buffer;
  server: { cert: Buffer; key: Buffer };
  client(cn: string): { cert: Buffer; key: Buffer };
  /** A client certificate signed by another CA: the switch must refuse it. */
  stranger: { cert: Buffer; key: Buffer };
  dispose(): void;
}

export function makePki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'pki-'));
  const f = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ca = (name: string) => ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`));
  const issue = (caName: string, name: string, cn: string, ext?: string) => {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    const args = ['x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${caName}.crt`), '-CAkey', f(`${caName}.key`), '-CAcreateserial', '-days', '2', '-out', f(`${name}.crt`)];
    if (ext) args.push('-extfile', ext);
    ssl(...args);
    return { cert: readFileSync(f(`${name}.crt`)), key: readFileSync(f(`${name}.key`)) };
  };
  ca('test-ca');
  ca('other-ca');
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${f('san.ext')}`]);
  const server = issue('test-ca', 'server', 'switch', f('san.ext'));
  const stranger = issue('other-ca', 'stranger', '004');
  let n = 0;
  return {
    ca: readFileSync(f('test-ca.crt')),
    server,
    client: (cn) => issue('test-ca', `client${++n}`, cn),
    stranger,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
