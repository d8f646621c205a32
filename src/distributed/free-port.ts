/**
 * A TCP port free on `host` right now, for a launcher that picks MASTER_PORT itself (as torchrun does on one
 * machine). Another process could take it before rank 0 binds it; rank 0 then fails with "port … is in use".
 */
import net from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
