import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { paymentLabel } from './money';
import { callLog, checkout, queryClient } from './trpc';
import './styles.css';

// Finish, once, what a reload interrupted: a payment that was in flight or waiting for the network when
// the page went away goes on with its own key (one that another open tab is still sending is left to it).
// The timeline names those calls before their first attempt starts.
for (const call of checkout.intent!.pending()) callLog.noteResumed(call.key, paymentLabel(call.input));
void checkout.resume();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
