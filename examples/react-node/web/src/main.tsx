import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { TRPCProvider, trpcClient } from './trpc';
import './styles.css';

// The idempotent client retries mutations itself, with one key per intent; TanStack Query must not add its own.
// Queries poll, so one quick retry is enough: a server or ledger that is down shows as such within seconds.
const queryClient = new QueryClient({
  defaultOptions: { mutations: { retry: false }, queries: { retry: 1, retryDelay: 500 } },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <App />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
