// Run before the suite: one clear line and exit 1 when PostgreSQL or Redis is down.
import { checkServices } from './services.ts';

try {
  await checkServices();
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
