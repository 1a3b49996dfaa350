// s3rver in a process of its own (started by s3.ts): a real object store does not share
// the event loop of the client that measures or tests it. Arguments: port, folder,
// bucket. Writes one line, "ready", once it listens; stops on SIGTERM.
import process from 'node:process';
import S3rver from 's3rver';

const [port, directory, bucket] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] });
await server.run();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  server.close().finally(() => process.exit(0));
});
